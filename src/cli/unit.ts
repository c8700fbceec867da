// `corfu unit --device PATH --listen HOST:PORT [--sync always|none]`: serve one
// formatted device over TCP until SIGTERM or SIGINT.
//
// Prints `listening HOST:PORT` (the actual port when 0 was asked for) on
// stdout once it accepts connections; everything else is the log on stderr
// (src/cli/log.ts). An unformatted device is the engine's ERR_NOT_FORMATTED
// (its message names `corfu format`); a port in use is ERR_IO; both end in one
// fatal log line and exit 1. On a signal: stop accepting, finish and answer
// what is in flight (cutting peers that do not read after a grace), close the
// store, exit 0; each step is logged.

import { exitWithParentIfAsked } from './exit-with-parent.js';

import { Store, type SyncMode } from '../../bindings/index.js';
import { UnitServer } from '../unit/server.js';
import { storeEngine } from '../unit/store-engine.js';
import { runServer, type LogFlags } from './log.js';
import { waitForStopSignal } from './stop-signal.js';

export interface UnitFlags extends LogFlags {
  device: string;
  listen: { host: string; port: number };
  sync: SyncMode;
}

/** How long a stop waits for peers to take their answers before it cuts them. */
const SHUTDOWN_GRACE_MS = 5_000;

export async function unitVerb(flags: UnitFlags): Promise<void> {
  await runServer('unit', flags, async (root) => {
    // What INFO reports of the device (fixed at format time); read before open takes the device's lock.
    const superblock = Store.inspect(flags.device);
    const log = root.child({ unit: superblock.unitId });
    // Before anything is printed: a supervisor that sees `listening` may stop us at once.
    const stopped = waitForStopSignal(exitWithParentIfAsked, log);
    const store = Store.open(flags.device, { sync: flags.sync });
    let server: UnitServer;
    try {
      server = await UnitServer.listen(storeEngine(store, superblock), { host: flags.listen.host, port: flags.listen.port, logger: log });
    } catch (err) {
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
      },
      `listening on ${shown}:${port}: device ${flags.device}, sync ${flags.sync}, cluster ${superblock.clusterId}, epoch ${stats.epoch}, tail ${stats.tail}`,
    );
    process.stdout.write(`listening ${shown}:${port}\n`);

    const signal = await stopped;
    log.info({ signal, connections: server.connections }, `${signal}: stopping: no new connections; answering what is in flight (${server.connections} connection(s))`);
    await server.shutdown(SHUTDOWN_GRACE_MS);
    log.info({}, 'connections closed');
    await store.close();
    log.info({}, 'store closed; stopped');
  });
}
