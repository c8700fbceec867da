// `corfu sequencer --listen HOST:PORT [--epoch E] [--start-tail T]`: serves
// tokens over TCP until SIGTERM or SIGINT, then exits 0.

import { InvalidArgumentError } from 'commander';
import { exitWithParentIfAsked } from './exit-with-parent.js';

import { ListenError, SequencerServer, formatHostPort } from '../sequencer/server.js';
import { FatalError } from './fatal-error.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT`, `[IPV6]:PORT` or just `PORT` (on 127.0.0.1). Port 0 picks a free one. */
export function listenArg(value: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65_535) {
    throw new InvalidArgumentError('expected HOST:PORT (port 0..65535), like 127.0.0.1:7000.');
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

export interface SequencerFlags {
  /** Default 127.0.0.1:0. */
  readonly listen?: ListenAddress;
  readonly epoch: number;
  readonly startTail: number;
}

export async function sequencerVerb(flags: SequencerFlags): Promise<void> {
  let server: SequencerServer;
  try {
    server = await SequencerServer.start({ ...(flags.listen ?? { host: '127.0.0.1', port: 0 }), epoch: flags.epoch, startTail: flags.startTail });
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
