// `corfu unit --device PATH --listen HOST:PORT [--sync always|none]`: serve one
// formatted device over TCP until SIGTERM or SIGINT.
//
// Prints `listening HOST:PORT` (the actual port when 0 was asked for) on
// stdout once it accepts connections. An unformatted device is the engine's
// ERR_NOT_FORMATTED (its message names `corfu format`); a port in use is
// ERR_IO; both end in one line on stderr and exit 1. On a signal: stop
// accepting, finish and answer what is in flight, close the store, exit 0.

import { exitWithParentIfAsked } from './exit-with-parent.js';

import { Store, type SyncMode } from '../../bindings/index.js';
import { UnitServer } from '../unit/server.js';
import { storeEngine } from '../unit/store-engine.js';
import { serverSecurity, type ServerSecurityFlags } from './security.js';

export interface UnitFlags extends ServerSecurityFlags {
  device: string;
  listen: { host: string; port: number };
  sync: SyncMode;
}

export async function unitVerb(flags: UnitFlags): Promise<void> {
  // Before the device is opened: a refused flag leaves nothing to undo.
  const security = serverSecurity(flags, flags.listen.host, 'unit');
  // What INFO reports of the device (fixed at format time); read before open takes the device's lock.
  const superblock = Store.inspect(flags.device);
  const store = Store.open(flags.device, { sync: flags.sync });
  let server: UnitServer;
  try {
    server = await UnitServer.listen(storeEngine(store, superblock), { host: flags.listen.host, port: flags.listen.port, ...security });
  } catch (err) {
    await store.close();
    throw err;
  }
  const { host, port } = server.address();
  const shown = host.includes(':') ? `[${host}]` : host;
  process.stdout.write(`listening ${shown}:${port}\n`);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    exitWithParentIfAsked();
    process.on('SIGINT', stop);
  });
  // A second signal while shutting down: leave at once.
  const force = (): void => process.exit(1);
  process.on('SIGTERM', force);
  process.on('SIGINT', force);
  await server.shutdown();
  await store.close();
  process.off('SIGTERM', force);
  process.off('SIGINT', force);
}
