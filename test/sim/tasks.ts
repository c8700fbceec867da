// Coroutines on the virtual clock. A simulated client's operations are
// generator functions that read like the real client's async code (client.ts)
// with `yield*` where it has `await`: they yield effects (send a request,
// wait for answers, sleep, call the projection store) and the runner resumes
// them when the simulated world answers. Deterministic: resumption happens
// only from queue events.

import type { RequestBody } from '../../src/transport/connection.js';
import type { Request, Response } from '../../src/wire/messages.js';
import type { MemProjectionStore } from './store.js';

export type Effect =
  /** Sends a request; resumes at once with a handle. */
  | { readonly send: { readonly to: string; readonly body: RequestBody; readonly timeoutMs: number } }
  /** Resumes when one of these handles completes: with its answer, or undefined when it timed out. */
  | { readonly wait: readonly number[] }
  | { readonly sleep: number }
  /** Starts a timer; resumes at once with a handle that completes (with no answer) after `ms`. */
  | { readonly timer: number }
  /** Calls the projection store (after a small delay); resumes with the result. */
  | { readonly store: (store: MemProjectionStore) => unknown };

export interface Completion {
  readonly handle: number;
  readonly response: Response | undefined;
}

export type Co<R> = Generator<Effect, R, unknown>;

export function* sleep(ms: number): Co<void> {
  yield { sleep: ms };
}

export function* send(to: string, body: RequestBody, timeoutMs: number): Co<number> {
  return (yield { send: { to, body, timeoutMs } }) as number;
}

export function* waitAny(handles: readonly number[]): Co<Completion> {
  return (yield { wait: handles }) as Completion;
}

/** One request and its answer; undefined when it was lost (the transport's timeout). */
export function* rpc(to: string, body: RequestBody, timeoutMs: number): Co<Response | undefined> {
  const h = yield* send(to, body, timeoutMs);
  return (yield* waitAny([h])).response;
}

export function* timer(ms: number): Co<number> {
  return (yield { timer: ms }) as number;
}

export function* withStore<T>(fn: (store: MemProjectionStore) => T): Co<T> {
  return (yield { store: fn }) as T;
}

/** What the runner needs from the simulated world. */
export interface TaskHost {
  readonly node: string;
  after(delay: number, run: () => void): void;
  storeDelay(): number;
  readonly store: MemProjectionStore;
  /** Sends a wire request from `node`; the answer must be passed to `answer`. */
  sendRequest(to: string, req: Request): void;
  nextRequestId(): number;
}

interface Pending {
  readonly task: Task;
  readonly handle: number;
  readonly to: string;
}

export class Task {
  readonly name: string;
  alive = true;
  waitingFor: readonly number[] | undefined;
  readonly completed = new Map<number, Completion>();
  constructor(
    readonly gen: Co<unknown>,
    name: string,
    readonly onEnd: (result: { ok: true; value: unknown } | { ok: false; error: unknown }) => void,
  ) {
    this.name = name;
  }
}

/** Runs the tasks of one node. */
export class TaskRunner {
  readonly #host: TaskHost;
  readonly #pending = new Map<number, Pending>();
  readonly tasks = new Set<Task>();
  #nextHandle = 1;

  constructor(host: TaskHost) {
    this.#host = host;
  }

  spawn<R>(gen: Co<R>, name: string, onEnd: (result: { ok: true; value: R } | { ok: false; error: unknown }) => void): Task {
    const task = new Task(gen, name, onEnd as Task['onEnd']);
    this.tasks.add(task);
    this.#resume(task, undefined, false);
    return task;
  }

  /** Kills every task: their generators are dropped, answers to them ignored. */
  killAll(): Task[] {
    const killed = [...this.tasks];
    for (const t of killed) t.alive = false;
    this.tasks.clear();
    this.#pending.clear();
    return killed;
  }

  /** An answer arrived at this node. */
  answer(from: string, res: Response): void {
    const p = this.#pending.get(res.requestId);
    if (p === undefined || p.to !== from) return; // late (timed out), duplicate, or not ours
    this.#pending.delete(res.requestId);
    this.#complete(p.task, { handle: p.handle, response: res });
  }

  #complete(task: Task, c: Completion): void {
    if (!task.alive) return;
    if (task.waitingFor !== undefined && task.waitingFor.includes(c.handle)) {
      task.waitingFor = undefined;
      this.#resume(task, c, false);
    } else {
      task.completed.set(c.handle, c);
    }
  }

  #resume(task: Task, value: unknown, isThrow: boolean): void {
    let input = value;
    for (;;) {
      if (!task.alive) return;
      let r: IteratorResult<Effect, unknown>;
      try {
        r = isThrow ? task.gen.throw(input) : task.gen.next(input);
      } catch (error) {
        this.#end(task, { ok: false, error });
        return;
      }
      isThrow = false;
      if (!task.alive) return; // its node crashed while it ran
      if (r.done === true) {
        this.#end(task, { ok: true, value: r.value });
        return;
      }
      const effect = r.value;
      if ('send' in effect) {
        const handle = this.#nextHandle++;
        const requestId = this.#host.nextRequestId();
        const { to, body, timeoutMs } = effect.send;
        this.#pending.set(requestId, { task, handle, to });
        this.#host.after(timeoutMs, () => {
          const p = this.#pending.get(requestId);
          if (p === undefined || p.handle !== handle) return;
          this.#pending.delete(requestId);
          this.#complete(task, { handle, response: undefined });
        });
        this.#host.sendRequest(to, { ...body, requestId } as Request);
        input = handle;
        continue;
      }
      if ('wait' in effect) {
        const ready = effect.wait.find((h) => task.completed.has(h));
        if (ready !== undefined) {
          input = task.completed.get(ready)!;
          task.completed.delete(ready);
          continue;
        }
        task.waitingFor = effect.wait;
        return;
      }
      if ('timer' in effect) {
        const handle = this.#nextHandle++;
        this.#host.after(effect.timer, () => this.#complete(task, { handle, response: undefined }));
        input = handle;
        continue;
      }
      if ('sleep' in effect) {
        this.#host.after(effect.sleep, () => this.#resume(task, undefined, false));
        return;
      }
      const fn = effect.store;
      this.#host.after(this.#host.storeDelay(), () => {
        if (!task.alive) return;
        let result: unknown;
        try {
          result = fn(this.#host.store);
        } catch (error) {
          this.#resume(task, error, true);
          return;
        }
        this.#resume(task, result, false);
      });
      return;
    }
  }

  #end(task: Task, result: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    task.alive = false;
    this.tasks.delete(task);
    task.onEnd(result);
  }
}
