// `corfu sequencer --listen HOST:PORT [--epoch E] [--start-tail T] [--max-streams N] [--front native|node] [--admin HOST:PORT] [--drain MS]`:
// serves tokens and stream tails over TCP until SIGTERM or SIGINT, then exits 0.
// With --admin it prints `admin HOST:PORT` before `listening HOST:PORT`; on a
// signal /readyz turns 503 and it serves on for --drain ms before closing.
// `listening HOST:PORT` on stdout; the log (start, seals and bootstraps, shutdown) on
// stderr (src/cli/log.ts). SIGHUP re-reads --cert-file, --key-file and --trusted-ca-file
// for new connections (src/cli/reload.ts).

import { exitWithParentIfAsked } from './exit-with-parent.js';

import { sequencerAdmin } from '../admin/sequencer.js';
import { ListenError, SequencerServer, formatHostPort } from '../sequencer/server.js';
import { drain, startAdmin, type AdminFlags } from './admin.js';
import { FatalError } from './fatal-error.js';
import { runServer, type LogFlags } from './log.js';
import { reloadTlsOnSighup } from './reload.js';
import { serverSecurity, type ServerSecurityFlags } from './security.js';
import { waitForStopSignal } from './stop-signal.js';

export interface SequencerFlags extends AdminFlags, ServerSecurityFlags, LogFlags {
  /** Default 127.0.0.1:0. */
  readonly listen?: { readonly host: string; readonly port: number };
  readonly epoch: number;
  readonly startTail: number;
  readonly maxStreams: number;
  readonly front: 'native' | 'node';
}

export async function sequencerVerb(flags: SequencerFlags): Promise<void> {
  const listen = flags.listen ?? { host: '127.0.0.1', port: 0 };
  // Refused flags (a public address with no TLS or token) end here, before any port opens.
  const security = serverSecurity(flags, listen.host, 'sequencer');
  await runServer('sequencer', flags, async (log) => {
    // Before anything is printed: a supervisor that sees `listening` may stop us at once.
    const stopped = waitForStopSignal(exitWithParentIfAsked, log, flags.drain);
    let server: SequencerServer | undefined;
    // Before `listening` too: from then on a SIGHUP rotates the certificate, never stops the sequencer.
    reloadTlsOnSighup(flags, log, () => server);
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
          front: flags.front,
          observer: admin.observer,
          logger: log,
        });
      } catch (err) {
        if (err instanceof ListenError) throw new FatalError(err.message);
        throw err;
      }
      const { host, port } = server.address;
      const address = formatHostPort(host, port);
      log.info(
        { listen: address, epoch: flags.epoch, startTail: flags.startTail, maxStreams: flags.maxStreams, front: server.front },
        `listening on ${address}: epoch ${flags.epoch}, start tail ${flags.startTail} (a reconfiguration bootstraps it to the layout's), ${server.front} front`,
      );
      process.stdout.write(`listening ${address}\n`);
      const signal = await stopped;
      log.info(
        { signal, connections: server.connections, epoch: server.sequencer.epoch, nextToken: server.sequencer.nextToken },
        `${signal}: stopping: no new connections; closing ${server.connections} connection(s)`,
      );
      await drain(listener, flags.drain, signal);
      await server.close();
      log.info({}, 'stopped');
    } finally {
      await listener?.close();
    }
  });
}
