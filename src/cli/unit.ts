// `corfu unit --device PATH --listen HOST:PORT [--sync always|none] [--admin HOST:PORT] [--drain MS]`:
// serve one formatted device over TCP until SIGTERM or SIGINT.
//
// Prints `listening HOST:PORT` (the actual port when 0 was asked for) on
// stdout once it accepts connections; with --admin, `admin HOST:PORT` first
// (the admin listener starts before the store opens: /readyz says what is not
// ready yet). An unformatted device is the engine's ERR_NOT_FORMATTED (its
// message names `corfu format`); a port in use is ERR_IO; both end in one line
// on stderr and exit 1. On a signal: /readyz turns 503, serve on for --drain
// ms, stop accepting, finish and answer what is in flight (cutting connections
// still open after SHUTDOWN_GRACE_MS), close the store, exit 0.

import { exitWithParentIfAsked } from './exit-with-parent.js';

import { Store, type SyncMode } from '../../bindings/index.js';
import { unitAdmin } from '../admin/unit.js';
import { UnitServer } from '../unit/server.js';
import { storeEngine } from '../unit/store-engine.js';
import type { UnitEngine } from '../unit/handler.js';
import { SHUTDOWN_GRACE_MS, drain, startAdmin, type AdminFlags } from './admin.js';
import { serverSecurity, type ServerSecurityFlags } from './security.js';

export interface UnitFlags extends AdminFlags, ServerSecurityFlags {
  device: string;
  listen: { host: string; port: number };
  sync: SyncMode;
}

export async function unitVerb(flags: UnitFlags): Promise<void> {
  // Before the device is opened: a refused flag leaves nothing to undo.
  const security = serverSecurity(flags, flags.listen.host, 'unit');
  // What the admin listener reads; each is set once it exists and cleared as it goes.
  let engine: UnitEngine | undefined;
  let server: UnitServer | undefined;
  const admin = unitAdmin({
    info: () => engine?.info(),
    listening: () => server?.address(),
    connections: () => server?.connections ?? 0,
  });
  const listener = await startAdmin(flags, admin);
  try {
    // What INFO reports of the device (fixed at format time); read before open takes the device's lock.
    const superblock = Store.inspect(flags.device);
    const store = Store.open(flags.device, { sync: flags.sync });
    engine = storeEngine(store, superblock);
    try {
      server = await UnitServer.listen(engine, { host: flags.listen.host, port: flags.listen.port, ...security, observer: admin.observer });
    } catch (err) {
      engine = undefined;
      await store.close();
      throw err;
    }
    const { host, port } = server.address();
    const shown = host.includes(':') ? `[${host}]` : host;
    process.stdout.write(`listening ${shown}:${port}\n`);

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
    // A second signal while shutting down: leave at once.
    const force = (): void => process.exit(1);
    process.on('SIGTERM', force);
    process.on('SIGINT', force);
    await drain(listener, flags.drain, signal);
    await server.shutdown(SHUTDOWN_GRACE_MS);
    engine = undefined;
    await store.close();
    process.off('SIGTERM', force);
    process.off('SIGINT', force);
  } finally {
    await listener?.close();
  }
}
