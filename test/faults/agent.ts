// The nemesis's hands inside the network: a long-lived process in the control
// namespace (which no partition rule names) that sends raw wire requests for
// the campaign, so probes cost no process start-up.
//
//   stdin:  {"id":1,"target":"10.213.0.10:7000","request":{"type":"request","op":"TAIL","epoch":3},"timeoutMs":1000}
//           WRITE entries carry payloads as hex: {"address":5,"payload":"6869"}
//   stdout: {"id":1,"ok":true,"response":{...}}   Uint8Arrays as arrays of numbers
//           {"id":1,"ok":false,"error":"ERR_IO: ..."}  (no answer: refused, timed out, dropped)
//   stdin:  {"id":2,"layout":"etcd://10.213.0.50:2379/corfu"}   the store's latest projection
//   stdout: {"id":2,"ok":true,"response":{...projection...}}   (response absent: the store is empty)

import { CorfuError } from '../../bindings/errors.js';
import { openProjectionStore } from '../../src/layout/open.js';
import type { ProjectionStore } from '../../src/layout/store.js';
import { splitHostPort } from '../../src/transport/address.js';
import { Connection, type RequestBody } from '../../src/transport/connection.js';
import { exitWithParent, stdinLines } from './util.js';

interface Command {
  id: number;
  target: string;
  request: Record<string, unknown>;
  timeoutMs?: number;
  /** Instead of a wire request: read the latest projection of this layout URL. */
  layout?: string;
}

/** One store per layout URL, kept open (an etcd client takes a while to load and connect). */
const stores = new Map<string, Promise<ProjectionStore>>();

async function latest(cmd: Command & { layout: string }): Promise<void> {
  let reply: Record<string, unknown>;
  try {
    let store = stores.get(cmd.layout);
    if (store === undefined) stores.set(cmd.layout, (store = openProjectionStore(cmd.layout)));
    const p = await (await store).latest();
    reply = { id: cmd.id, ok: true, ...(p === undefined ? {} : { response: p }) };
  } catch (err) {
    reply = { id: cmd.id, ok: false, error: err instanceof CorfuError ? `${err.code}: ${err.message}` : String(err) };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}

function toBody(req: Record<string, unknown>): RequestBody {
  if (req['op'] === 'WRITE') {
    const entries = (req['entries'] as Array<{ address: number; payload: string }>).map((e) => ({
      address: e.address,
      payload: new Uint8Array(Buffer.from(e.payload, 'hex')),
    }));
    return { ...req, entries } as unknown as RequestBody;
  }
  return req as unknown as RequestBody;
}

function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

async function handle(cmd: Command): Promise<void> {
  const timeoutMs = cmd.timeoutMs ?? 1000;
  const conn = new Connection({ ...splitHostPort(cmd.target), timeoutMs, reconnectMinMs: 20, reconnectMaxMs: 100 });
  let reply: Record<string, unknown>;
  try {
    const response = await conn.request(toBody(cmd.request), { timeoutMs });
    reply = { id: cmd.id, ok: true, response: plain(response) };
  } catch (err) {
    reply = { id: cmd.id, ok: false, error: err instanceof CorfuError ? `${err.code}: ${err.message}` : String(err) };
  } finally {
    void conn.close();
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}

exitWithParent();
process.stdin.once('end', () => process.exit(0));
stdinLines((line) => {
  if (line.trim() === '') return;
  const cmd = JSON.parse(line) as Command;
  if (cmd.layout !== undefined) void latest(cmd as Command & { layout: string });
  else void handle(cmd);
});
process.stdout.write('ready\n');
