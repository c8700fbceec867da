// `corfu sequencer --listen HOST:PORT [--epoch E] [--start-tail T] [--max-streams N]`:
// serves tokens and stream tails over TCP until SIGTERM or SIGINT, then exits 0.
// `listening HOST:PORT` on stdout; the log (start, seals and bootstraps, shutdown) on
// stderr (src/cli/log.ts).

import { exitWithParentIfAsked } from './exit-with-parent.js';

import { ListenError, SequencerServer, formatHostPort } from '../sequencer/server.js';
import { FatalError } from './fatal-error.js';
import { runServer, type LogFlags } from './log.js';
import { waitForStopSignal } from './stop-signal.js';

export interface SequencerFlags extends LogFlags {
  /** Default 127.0.0.1:0. */
  readonly listen?: { readonly host: string; readonly port: number };
  readonly epoch: number;
  readonly startTail: number;
  readonly maxStreams: number;
}

export async function sequencerVerb(flags: SequencerFlags): Promise<void> {
  await runServer('sequencer', flags, async (log) => {
    // Before anything is printed: a supervisor that sees `listening` may stop us at once.
    const stopped = waitForStopSignal(exitWithParentIfAsked, log);
    let server: SequencerServer;
    try {
      server = await SequencerServer.start({ ...(flags.listen ?? { host: '127.0.0.1', port: 0 }), epoch: flags.epoch, startTail: flags.startTail, maxStreams: flags.maxStreams, logger: log });
    } catch (err) {
      if (err instanceof ListenError) throw new FatalError(err.message);
      throw err;
    }
    const { host, port } = server.address;
    const address = formatHostPort(host, port);
    log.info(
      { listen: address, epoch: flags.epoch, startTail: flags.startTail, maxStreams: flags.maxStreams },
      `listening on ${address}: epoch ${flags.epoch}, start tail ${flags.startTail} (a reconfiguration bootstraps it to the layout's)`,
    );
    process.stdout.write(`listening ${address}\n`);
    const signal = await stopped;
    log.info(
      { signal, connections: server.connections, epoch: server.sequencer.epoch, nextToken: server.sequencer.nextToken },
      `${signal}: stopping: no new connections; closing ${server.connections} connection(s)`,
    );
    await server.close();
    log.info({}, 'stopped');
  });
}
