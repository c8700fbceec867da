// `corfu unit --device PATH --listen HOST:PORT [--sync always|none] [--front native|node] [--admin HOST:PORT] [--drain MS]`:
// serve one formatted device over TCP until SIGTERM or SIGINT.
//
// Prints `listening HOST:PORT` (the actual port when 0 was asked for) on
// stdout once it accepts connections; with --admin, `admin HOST:PORT` first
// (the admin listener starts before the store opens: /readyz says what is not
// ready yet). An unformatted device is the engine's ERR_NOT_FORMATTED (its
// message names `corfu format`); a port in use is ERR_IO; both end in one line
// of the log on stderr (level fatal) and exit 1. On a signal: /readyz turns 503, serve on for --drain
// ms, stop accepting, finish and answer what is in flight (cutting connections
// still open after the server's DEFAULT_SHUTDOWN_GRACE_MS), close the store, exit 0.
// Everything but those two lines is the log on stderr (src/cli/log.ts), each
// shutdown step included. SIGHUP re-reads --cert-file, --key-file and
// --trusted-ca-file for new connections (src/cli/reload.ts).

import { exitWithParentIfAsked } from './exit-with-parent.js';

import { Store, type SyncMode } from '../../bindings/index.js';
import { unitAdmin } from '../admin/unit.js';
import { UnitServer, type FrontKind } from '../unit/server.js';
import { storeEngine } from '../unit/store-engine.js';
import type { UnitEngine } from '../unit/handler.js';
import { drain, startAdmin, type AdminFlags } from './admin.js';
import { runServer, type LogFlags } from './log.js';
import { reloadTlsOnSighup } from './reload.js';
import { serverSecurity, type ServerSecurityFlags } from './security.js';
import { waitForStopSignal } from './stop-signal.js';

export interface UnitFlags extends AdminFlags, ServerSecurityFlags, LogFlags {
  device: string;
  listen: { host: string; port: number };
  sync: SyncMode;
  front: FrontKind;
}

export async function unitVerb(flags: UnitFlags): Promise<void> {
  // Before the device is opened: a refused flag leaves nothing to undo.
  const security = serverSecurity(flags, flags.listen.host, 'unit');
  await runServer('unit', flags, async (root) => {
    // Before anything is printed: a supervisor that sees `listening` may stop us at once.
    const stopped = waitForStopSignal(exitWithParentIfAsked, root, flags.drain);
    // What the admin listener reads; each is set once it exists and cleared as it goes.
    let engine: UnitEngine | undefined;
    let opened: Store | undefined;
    let server: UnitServer | undefined;
    // Before `listening` too: from then on a SIGHUP rotates the certificate, never stops the unit.
    reloadTlsOnSighup(flags, root, () => server);
    const admin = unitAdmin({
      info: () => engine?.info(),
      listening: () => server?.address(),
      connections: () => server?.connections ?? 0,
      stats: () => (engine === undefined ? undefined : opened?.stats()),
      frontAnswers: () => server?.frontAnswers(),
    });
    const listener = await startAdmin(flags, admin);
    try {
      // What INFO reports of the device (fixed at format time); read before open takes the
      // device's lock. The superblock alone: the open recovers the index, once.
      const superblock = Store.identity(flags.device);
      const log = root.child({ unit: superblock.unitId });
      const store = Store.open(flags.device, { sync: flags.sync });
      engine = storeEngine(store, superblock);
      opened = store;
      try {
        server = await UnitServer.listen(engine, { host: flags.listen.host, port: flags.listen.port, front: flags.front, ...security, observer: admin.observer, logger: log });
      } catch (err) {
        engine = undefined;
        await store.close();
        throw err;
      }
      const { host, port } = server.address();
      const shown = host.includes(':') ? `[${host}]` : host;
      const stats = await store.stats();
      log.info(
        {
          listen: `${shown}:${port}`,
          device: flags.device,
          sync: flags.sync,
          clusterId: superblock.clusterId,
          epoch: stats.epoch,
          tail: stats.tail,
          trimMark: stats.trimMark,
          maxEntryBytes: superblock.maxEntryBytes,
          front: server.front,
        },
        `listening on ${shown}:${port}: device ${flags.device}, sync ${flags.sync}, cluster ${superblock.clusterId}, epoch ${stats.epoch}, tail ${stats.tail}, ${server.front} front`,
      );
      process.stdout.write(`listening ${shown}:${port}\n`);

      const signal = await stopped;
      log.info({ signal, connections: server.connections }, `${signal}: stopping: no new connections; answering what is in flight (${server.connections} connection(s))`);
      await drain(listener, flags.drain, signal);
      await server.shutdown();
      engine = undefined;
      log.info({}, 'connections closed');
      await store.close();
      log.info({}, 'store closed; stopped');
    } finally {
      await listener?.close();
    }
  });
}
