// CPU time of every process a benchmark involves, from /proc/PID/stat (utime and
// stime, fields 14 and 15), sampled when the measured window opens and when it
// closes, and once a second in between for the per-second chart. Seconds of CPU per
// process, its share of one CPU over the window, and µs of CPU per operation tell a
// reader which process is the bottleneck: one near 100% of a CPU is.
//
// A short-lived child (fio, redis-benchmark) leaves /proc when it exits; its time is
// read from this process's cutime/cstime instead (fields 16 and 17: the CPU of
// children it has waited for), around the child's run: `childCpuSeconds()`.

import { readFileSync } from 'node:fs';

/** What a process is to the benchmark. */
export type ProcessRole = 'bench' | 'unit' | 'sequencer' | 'peer' | 'load-generator';

export interface ProcessRef {
  readonly role: ProcessRole;
  readonly name: string;
  readonly pid: number;
}

export interface ProcessCpu {
  readonly role: ProcessRole;
  readonly name: string;
  readonly pid: number;
  readonly user_s: number;
  readonly system_s: number;
  readonly cpu_s: number;
  /** cpu_s over the window's wall time: 1.0 is one whole CPU. */
  readonly cpu_share: number;
  /** cpu_s per operation of the run, in microseconds (null without operations). */
  readonly cpu_us_per_op: number | null;
}

export interface CpuSecond {
  readonly t_s: number;
  /** Share of one CPU per process name over that second. */
  readonly share: Readonly<Record<string, number>>;
}

/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK) is not reachable from Node). */
const TICKS_PER_S = 100;

interface Times {
  readonly user: number;
  readonly system: number;
  readonly childUser: number;
  readonly childSystem: number;
}

function statTimes(pid: number | 'self'): Times | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command (field 2) may hold spaces and parentheses: count from the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) / TICKS_PER_S, system: Number(f[12]) / TICKS_PER_S, childUser: Number(f[13]) / TICKS_PER_S, childSystem: Number(f[14]) / TICKS_PER_S };
  } catch {
    return undefined; // gone
  }
}

/** User + system CPU seconds of the children this process has waited for so far. */
export function childCpuSeconds(): { user: number; system: number } {
  const t = statTimes('self');
  return { user: t?.childUser ?? 0, system: t?.childSystem ?? 0 };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The CPU of a child measured with childCpuSeconds() around its run, as a ProcessCpu row. */
export function childCpuRow(ref: ProcessRef, before: { user: number; system: number }, wallS: number, ops: number): ProcessCpu {
  const after = childCpuSeconds();
  return row(ref, after.user - before.user, after.system - before.system, wallS, ops);
}

function row(ref: ProcessRef, user: number, system: number, wallS: number, ops: number): ProcessCpu {
  const cpu = user + system;
  return {
    ...ref,
    user_s: round3(user),
    system_s: round3(system),
    cpu_s: round3(cpu),
    cpu_share: wallS > 0 ? round3(cpu / wallS) : 0,
    cpu_us_per_op: ops > 0 ? Math.round((cpu / ops) * 1e7) / 10 : null,
  };
}

/** Samples a set of processes: start(), then sample() once a second, then stop(). */
export class CpuMeter {
  readonly #refs: readonly ProcessRef[];
  #first = new Map<number, Times>();
  #last = new Map<number, Times>();
  #lastAt = 0;
  #startAt = 0;
  readonly seconds: CpuSecond[] = [];

  constructor(refs: readonly ProcessRef[]) {
    this.#refs = refs;
  }

  #read(): Map<number, Times> {
    const m = new Map<number, Times>();
    for (const r of this.#refs) {
      const t = statTimes(r.pid === process.pid ? 'self' : r.pid);
      if (t !== undefined) m.set(r.pid, t);
    }
    return m;
  }

  start(nowMs: number): void {
    this.#first = this.#read();
    this.#last = this.#first;
    this.#startAt = nowMs;
    this.#lastAt = nowMs;
  }

  /** One point of the per-second chart: each process's share of a CPU since the last sample. */
  sample(nowMs: number): void {
    const now = this.#read();
    const dt = (nowMs - this.#lastAt) / 1000;
    if (dt <= 0) return;
    const share: Record<string, number> = {};
    for (const r of this.#refs) {
      const a = this.#last.get(r.pid);
      const b = now.get(r.pid);
      if (a !== undefined && b !== undefined) share[r.name] = round3((b.user + b.system - a.user - a.system) / dt);
    }
    this.seconds.push({ t_s: round3((nowMs - this.#startAt) / 1000), share });
    this.#last = now;
    this.#lastAt = nowMs;
  }

  /** Per process: CPU over the window (a process gone meanwhile is left out). */
  stop(nowMs: number, ops: number): ProcessCpu[] {
    const end = this.#read();
    if (nowMs - this.#lastAt > 200) this.sample(nowMs);
    const wallS = (nowMs - this.#startAt) / 1000;
    const rows: ProcessCpu[] = [];
    for (const r of this.#refs) {
      const a = this.#first.get(r.pid);
      const b = end.get(r.pid);
      if (a === undefined || b === undefined) continue;
      rows.push(row(r, b.user - a.user, b.system - a.system, wallS, ops));
    }
    return rows;
  }
}
