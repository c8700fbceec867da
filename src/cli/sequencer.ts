// `corfu sequencer --listen HOST:PORT [--epoch E] [--start-tail T] [--max-streams N] [--admin HOST:PORT] [--drain MS]`:
// serves tokens and stream tails over TCP until SIGTERM or SIGINT, then exits 0.
// With --admin it prints `admin HOST:PORT` before `listening HOST:PORT`; on a
// signal /readyz turns 503 and it serves on for --drain ms before closing.

import { exitWithParentIfAsked } from './exit-with-parent.js';

import { sequencerAdmin } from '../admin/sequencer.js';
import { ListenError, SequencerServer, formatHostPort } from '../sequencer/server.js';
import { drain, startAdmin, type AdminFlags } from './admin.js';
import { FatalError } from './fatal-error.js';
import { serverSecurity, type ServerSecurityFlags } from './security.js';

export interface SequencerFlags extends AdminFlags, ServerSecurityFlags {
  /** Default 127.0.0.1:0. */
  readonly listen?: { readonly host: string; readonly port: number };
  readonly epoch: number;
  readonly startTail: number;
  readonly maxStreams: number;
}

export async function sequencerVerb(flags: SequencerFlags): Promise<void> {
  const listen = flags.listen ?? { host: '127.0.0.1', port: 0 };
  // Refused flags (a public address with no TLS or token) end here, before any port opens.
  const security = serverSecurity(flags, listen.host, 'sequencer');
  let server: SequencerServer | undefined;
  const admin = sequencerAdmin(() => server, flags.epoch);
  const listener = await startAdmin(flags, admin);
  try {
    try {
      server = await SequencerServer.start({
        ...listen,
        ...security,
        epoch: flags.epoch,
        startTail: flags.startTail,
        maxStreams: flags.maxStreams,
        observer: admin.observer,
      });
    } catch (err) {
      if (err instanceof ListenError) throw new FatalError(err.message);
      throw err;
    }
    const { host, port } = server.address;
    process.stdout.write(`listening ${formatHostPort(host, port)}\n`);
    const signal = await new Promise<string>((resolve) => {
      const stop = (sig: string): void => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve(sig);
      };
      process.on('SIGTERM', stop);
      exitWithParentIfAsked();
      process.on('SIGINT', stop);
    });
    await drain(listener, flags.drain, signal);
    await server.close();
  } finally {
    await listener?.close();
  }
}
