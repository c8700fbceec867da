// `corfu sequencer --listen HOST:PORT [--epoch E] [--start-tail T] [--max-streams N]`:
// serves tokens and stream tails over TCP until SIGTERM or SIGINT, then exits 0.

import { exitWithParentIfAsked } from './exit-with-parent.js';

import { ListenError, SequencerServer, formatHostPort } from '../sequencer/server.js';
import { FatalError } from './fatal-error.js';
import { serverSecurity, type ServerSecurityFlags } from './security.js';

export interface SequencerFlags extends ServerSecurityFlags {
  /** Default 127.0.0.1:0. */
  readonly listen?: { readonly host: string; readonly port: number };
  readonly epoch: number;
  readonly startTail: number;
  readonly maxStreams: number;
}

export async function sequencerVerb(flags: SequencerFlags): Promise<void> {
  const listen = flags.listen ?? { host: '127.0.0.1', port: 0 };
  const security = serverSecurity(flags, listen.host, 'sequencer');
  let server: SequencerServer;
  try {
    server = await SequencerServer.start({ ...listen, ...security, epoch: flags.epoch, startTail: flags.startTail, maxStreams: flags.maxStreams });
  } catch (err) {
    if (err instanceof ListenError) throw new FatalError(err.message);
    throw err;
  }
  const { host, port } = server.address;
  process.stdout.write(`listening ${formatHostPort(host, port)}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void server.close().then(resolve);
    };
    process.on('SIGTERM', stop);
    exitWithParentIfAsked();
    process.on('SIGINT', stop);
  });
}
