// Runs a Reconfiguration (reconfigure.ts) against real servers and a real
// projection store: the machine decides, this owns the connections.
//
// Requests go out in parallel; answers are fed back in the order they arrive.
// A server that refuses the connection is reported lost at once (the
// Connection fails fast), so replacing a dead unit does not wait `timeoutMs`
// for it. Connections come from the runtime's pool: a process that
// reconfigures again (a manager) reuses them, and so do its clients.

import { CorfuError } from '../../bindings/errors.js';
import { invariant } from '../../bindings/invariant.js';
import type { Change } from '../layout/next.js';
import type { Projection, ProjectionStore } from '../layout/index.js';
import { Reconfiguration } from './reconfigure.js';
import { nodeRuntime, type ClientRuntime } from './runtime.js';
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED, sharedPool, type Lease } from './server-pool.js';
import type { ReconfigAction, ReconfigEvent, ReconfigSend } from './reconfigure.js';

export interface ReconfigureOptions {
  /** Per request, and for the reachability probe. Default 3000. */
  readonly timeoutMs?: number;
  /**
   * Reconfigure only if the latest projection is this epoch (a compare-and-set:
   * an operator's change is not applied on top of a layout they have not seen).
   */
  readonly expectEpoch?: number;
  /** Clock, timers and the way to reach servers (the simulator's, in test/sim). Default: Node's. */
  readonly runtime?: ClientRuntime;
}

export interface ReconfigureResult {
  /** The projection that holds the new epoch: ours, or the winner we adopted. */
  readonly projection: Projection;
  /** Another proposal won the epoch; `projection` is that one, and our changes were not applied. */
  readonly adopted: boolean;
  readonly previous: Projection;
  /** Each unit's tail as answered to the seal. */
  readonly tails: ReadonlyMap<string, number>;
}

/** Installs the latest projection's epoch+1 with `changes`. Rejects with a CorfuError. */
export async function reconfigure(store: ProjectionStore, changes: readonly Change[], options: ReconfigureOptions = {}): Promise<ReconfigureResult> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const pool = sharedPool(options.runtime ?? nodeRuntime);
  const previous = await store.latest();
  if (previous === undefined) throw new CorfuError('ERR_BAD_REQUEST', 'the projection store is empty: nothing to reconfigure (see `corfu layout init`)');
  if (options.expectEpoch !== undefined && previous.epoch !== options.expectEpoch) {
    throw new CorfuError('ERR_SEALED', `the layout is at epoch ${previous.epoch}, not ${options.expectEpoch}: look at it again (corfu layout show)`, { unitEpoch: previous.epoch });
  }
  const machine = new Reconfiguration(previous, changes);
  const leases = new Map<string, Lease>();
  // Events in arrival order; `wake` resolves the loop's wait when one arrives.
  const events: ReconfigEvent[] = [];
  const inFlight = new Set<Promise<void>>();
  let wake: (() => void) | undefined;
  let failure: unknown; // the store failed (the servers' failures are events)

  const connection = (target: string): Lease => {
    let lease = leases.get(target);
    if (lease === undefined) {
      lease = pool.acquire(target, { timeoutMs, maxInFlight: DEFAULT_MAX_IN_FLIGHT, maxQueued: DEFAULT_MAX_QUEUED });
      leases.set(target, lease);
    }
    return lease;
  };
  const call = async (send: ReconfigSend): Promise<ReconfigEvent> => {
    try {
      const response = await connection(send.target).connection.request(send.request, { timeoutMs });
      return { response: { id: send.id, response } };
    } catch (err) {
      // A server that does not answer is an event the machine decides on; anything but a
      // CorfuError is a bug here, and fails the reconfiguration (through `track`).
      if (err instanceof CorfuError) return { lost: { id: send.id } };
      throw err;
    }
  };
  const track = (p: Promise<ReconfigEvent>): void => {
    const tracked = p.then(
      (event) => {
        inFlight.delete(tracked);
        events.push(event);
        wake?.();
      },
      (err: unknown) => {
        inFlight.delete(tracked);
        failure ??= err;
        wake?.();
      },
    );
    inFlight.add(tracked);
  };

  try {
    let actions: ReconfigAction[] = machine.start();
    for (;;) {
      for (const action of actions) {
        if ('send' in action) track(call(action.send));
        else if ('propose' in action) track(store.propose(action.propose).then((proposed) => ({ proposed })));
        else if ('done' in action) return { ...action.done, previous, tails: machine.tails };
        else
          throw new CorfuError(
            action.failed.code,
            `reconfigure epoch ${machine.epoch}: ${action.failed.message}`,
            action.failed.unitEpoch === undefined ? undefined : { unitEpoch: action.failed.unitEpoch },
          );
      }
      if (events.length === 0 && failure === undefined) {
        invariant(inFlight.size > 0, 'reconfiguration: the machine is waiting on nothing');
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the store threw
      if (failure !== undefined) throw failure;
      actions = machine.step(events.shift()!);
    }
  } finally {
    // What is still in flight (a replaced unit's seal the machine did not wait for: a hung
    // one answers after a whole timeout, if ever) settles on its own, and the connections
    // are released then; the caller does not wait for it (a manager's next step did, 1 s).
    void Promise.allSettled([...inFlight]).then(() => Promise.allSettled([...leases.values()].map((lease) => pool.release(lease))));
  }
}
