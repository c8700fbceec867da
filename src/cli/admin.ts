// The servers' admin listener as the CLI runs it (`--admin HOST:PORT`,
// `--drain MS`): start it before anything else, so a prober sees the server
// come up (live, not yet ready), print `admin HOST:PORT` as `listening` is
// printed, and bound the whole shutdown after a signal.

import { AdminListenError, AdminListener, hostPort, type AdminSources } from '../admin/listener.js';
import { FatalError } from './fatal-error.js';

export interface AdminFlags {
  /** Absent: no admin listener. */
  readonly admin?: { readonly host: string; readonly port: number };
  /** After SIGTERM, how long the server keeps serving while /readyz says it is draining. */
  readonly drain: number;
}

/** Starts the admin listener when asked for, and prints `admin HOST:PORT`. */
export async function startAdmin(flags: AdminFlags, sources: AdminSources): Promise<AdminListener | undefined> {
  if (flags.admin === undefined) return undefined;
  let admin: AdminListener;
  try {
    admin = await AdminListener.start({ ...flags.admin, ...sources });
  } catch (err) {
    if (err instanceof AdminListenError) throw new FatalError(err.message);
    throw err;
  }
  process.stdout.write(`admin ${hostPort(admin.address.host, admin.address.port)}\n`);
  return admin;
}

/**
 * The first part of a shutdown: /readyz turns 503 at once, then the server keeps serving
 * for `drainMs` (peers and load balancers see it leave before it stops answering). The
 * backstop past which the process exits 1 is stop-signal.ts's, which counts the drain in.
 */
export async function drain(admin: AdminListener | undefined, drainMs: number, signal: string): Promise<void> {
  admin?.drain(`${signal} received: shutting down`);
  if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
}
