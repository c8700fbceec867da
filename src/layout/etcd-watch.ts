// One ProjectionStore.watch on etcd: a loop of
//   1. re-read: the latest slot (first time) or every slot above the last
//      one reported, noting the revision of the read;
//   2. watch the slot range from that revision + 1 on one gRPC Watch stream,
//      reporting each put as it comes (revision order is the order in which
//      slots were filled, so each put above the cursor was the latest then);
//   3. when the stream is lost (etcd restarted, connection reset, keepalive
//      timeout, cancelled by etcd) go back to 1 after a short pause; when
//      etcd compacted past the start revision (ErrCompacted), at once.
// Every (re)start re-reads first, so nothing proposed while the stream was
// down is missed, whatever the connection did in between. The stream is our
// own rather than the etcd3 library's watch manager: that one resumes from a
// revision it tracks itself and reports some failures only as silence.

import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';

import { CorfuError } from '../../bindings/errors.js';
import type { EtcdProjectionStore, Slot } from './etcd-store.js';
import type { WatchCursor } from './watch-cursor.js';

const FIRST_PAUSE_MS = 25;
const MAX_PAUSE_MS = 1000;

type Outcome = 'compacted' | 'lost';

export class EtcdWatch {
  readonly #store: EtcdProjectionStore;
  readonly #cursor: WatchCursor;
  /** Whether the first read (the latest slot only) is done. */
  #started = false;
  /** Failed rounds since a stream was last established: the pause doubles with each. */
  #failures = 0;
  #stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  #pauseTimer: NodeJS.Timeout | undefined;
  #endPause: (() => void) | undefined;

  constructor(store: EtcdProjectionStore, cursor: WatchCursor) {
    this.#store = store;
    this.#cursor = cursor;
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#cursor.stop();
    if (this.#stream !== undefined) closeStream(this.#stream);
    this.#stream = undefined;
    if (this.#pauseTimer !== undefined) clearTimeout(this.#pauseTimer);
    this.#endPause?.();
  }

  async #run(): Promise<void> {
    while (!this.#cursor.stopped) {
      let outcome: Outcome = 'lost';
      try {
        const revision = await this.#resync();
        if (this.#cursor.stopped) return;
        const from = (BigInt(revision) + 1n).toString();
        await this.#store.beforeWatch?.(from);
        outcome = await this.#follow(from);
      } catch (err) {
        this.#cursor.error(this.#store.failure('cannot watch', err, 'watch'));
      }
      if (this.#cursor.stopped) return;
      if (outcome === 'lost') await this.#pause();
    }
  }

  /** Step 1; answers the revision of its first read. */
  async #resync(): Promise<string> {
    if (!this.#started) {
      const { slot, revision } = await this.#store.readLatest();
      if (slot !== undefined) this.#offer(slot);
      this.#started = true;
      return revision;
    }
    let revision: string | undefined;
    for (;;) {
      const page = await this.#store.readAbove(this.#cursor.passed);
      revision ??= page.revision;
      for (const slot of page.slots) this.#offer(slot);
      // A page without a slot cannot move the cursor: stop rather than read it again.
      if (!page.more || page.slots.length === 0 || this.#cursor.stopped) return revision;
    }
  }

  /** Step 2: resolves when the stream ends, with why. */
  async #follow(fromRevision: string): Promise<Outcome> {
    const stream = await this.#store.client.watchClient.watch();
    if (this.#cursor.stopped) {
      closeStream(stream);
      return 'lost';
    }
    this.#stream = stream;
    const { start, end } = this.#store.epochsRange;
    return new Promise<Outcome>((resolve) => {
      let done = false;
      const finish = (outcome: Outcome, error?: CorfuError): void => {
        if (done) return;
        done = true;
        if (this.#stream === stream) this.#stream = undefined;
        closeStream(stream);
        if (error !== undefined) this.#cursor.error(error);
        resolve(outcome);
      };
      stream.on('data', (response: IWatchResponse) => {
        if (done) return;
        if (response.created && !response.canceled) {
          this.#failures = 0;
          this.#cursor.recovered();
        }
        for (const event of response.events) {
          if (event.type !== 'Put') continue;
          const slot = this.#store.slotOfKeyValue(event.kv);
          if (slot !== undefined) this.#offer(slot);
        }
        if (response.canceled) {
          // ErrCompacted: the revision we asked for is gone. Re-read, and watch from now.
          if (response.compact_revision !== '0') finish('compacted');
          else finish('lost', new CorfuError('ERR_UNAVAILABLE', `projection store ${this.#store.url}: etcd cancelled the watch (${response.cancel_reason || 'no reason given'}); watching again`));
        }
      });
      stream.on('error', (err: Error) => {
        finish('lost', this.#cursor.stopped ? undefined : this.#store.failure('lost the watch; watching again once etcd answers', err, 'watch'));
      });
      stream.on('end', () => {
        finish('lost', new CorfuError('ERR_UNAVAILABLE', `projection store ${this.#store.url}: etcd ended the watch stream; watching again`));
      });
      stream.write({
        create_request: { key: Buffer.from(start), range_end: Buffer.from(end), start_revision: fromRevision, filters: ['Nodelete'] },
      });
    });
  }

  #offer(slot: Slot): void {
    if ('corrupt' in slot) this.#cursor.skip(slot.epoch, slot.corrupt);
    else this.#cursor.offer(slot.projection);
  }

  /** Step 3's pause: 25 ms, doubling up to 1 s while etcd stays away; unref'd, cut short by stop(). */
  async #pause(): Promise<void> {
    const pauseMs = Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** this.#failures);
    this.#failures = Math.min(this.#failures + 1, 16);
    await new Promise<void>((resolve) => {
      this.#endPause = resolve;
      this.#pauseTimer = setTimeout(resolve, pauseMs);
      this.#pauseTimer.unref();
    });
    this.#endPause = undefined;
    this.#pauseTimer = undefined;
  }
}

// Half-close before cancelling: the etcd3 library takes an error on a stream
// that is still writable (our own cancel included) for a failed host and
// closes every channel to it, under other calls in flight.
function closeStream(stream: IDuplexStream<IWatchRequest, IWatchResponse>): void {
  try {
    stream.end();
  } catch {
    // Already ended or failed: cancelling is all that is left.
  }
  stream.cancel();
}
