// The machine a benchmark ran on, recorded with every result: a figure without its
// CPU, kernel and device is not comparable with anything. Everything is read from
// /proc, /sys and os; what cannot be read is null, never a guess.

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface DeviceInfo {
  /** The path the benchmark used (a unit's file, a device). */
  readonly path: string;
  readonly kind: 'block' | 'file' | 'missing';
  /** The filesystem holding a file (ext4, tmpfs, ...), from /proc/self/mountinfo. */
  readonly filesystem: string | null;
  readonly mount_point: string | null;
  /** The block device below it (vda, nvme0n1, loop3), from /sys/dev/block. */
  readonly block_device: string | null;
  readonly model: string | null;
  readonly rotational: boolean | null;
  readonly scheduler: string | null;
  readonly logical_block_bytes: number | null;
  readonly write_cache: string | null;
}

export interface MachineInfo {
  readonly cpu_model: string | null;
  readonly cpus: number;
  readonly memory_bytes: number;
  readonly memory_free_bytes: number;
  readonly kernel: string;
  readonly os: string | null;
  readonly node: string;
  /** Load average (1, 5, 15 min) when the run started: a busy machine shows here. */
  readonly load_average: number[];
  readonly virtualization: string | null;
  readonly devices: DeviceInfo[];
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function osName(): string | null {
  const text = read('/etc/os-release');
  const m = text === null ? null : /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return m?.[1] ?? null;
}

function virtualization(): string | null {
  const flags = /^flags\s*:(.*)$/m.exec(read('/proc/cpuinfo') ?? '')?.[1] ?? '';
  if (!/\bhypervisor\b/.test(flags)) return flags === '' ? null : 'none';
  return read('/sys/class/dmi/id/sys_vendor') ?? read('/sys/class/dmi/id/product_name') ?? 'a hypervisor';
}

/** The mount (point, filesystem) holding `path`: the longest mount point that prefixes it. */
function mountOf(path: string): { point: string; fs: string } | null {
  const text = read('/proc/self/mountinfo');
  if (text === null) return null;
  let best: { point: string; fs: string } | null = null;
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const [left, right] = line.split(' - ');
    const point = left?.split(' ')[4]?.replace(/\\040/g, ' ');
    const fs = right?.split(' ')[0];
    if (point === undefined || fs === undefined) continue;
    const inside = path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`);
    if (inside && (best === null || point.length >= best.point.length)) best = { point, fs };
  }
  return best;
}

/** /sys/block/NAME for a device number: a partition's queue is its parent's. */
function blockOf(dev: number): { name: string; sys: string } | null {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  try {
    const sys = realpathSync(`/sys/dev/block/${major}:${minor}`);
    const name = sys.split('/').pop()!;
    const queueDir = read(join(sys, 'partition')) !== null ? dirname(sys) : sys;
    return { name, sys: queueDir };
  } catch {
    return null;
  }
}

export function deviceInfo(path: string): DeviceInfo {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    return { path: abs, kind: 'missing', filesystem: null, mount_point: null, block_device: null, model: null, rotational: null, scheduler: null, logical_block_bytes: null, write_cache: null };
  }
  const isBlock = st.isBlockDevice();
  const mount = isBlock ? null : mountOf(realpathSync(abs));
  const block = blockOf(isBlock ? st.rdev : st.dev);
  const q = (f: string): string | null => (block === null ? null : read(join(block.sys, 'queue', f)));
  const rotational = q('rotational');
  const lbs = q('logical_block_size');
  let model = block === null ? null : read(join(block.sys, 'device', 'model'));
  if (model === null && block !== null && block.name.startsWith('loop')) {
    const backing = read(join(block.sys, 'loop', 'backing_file'));
    model = backing === null ? 'loop device' : `loop device over ${backing}`;
  }
  return {
    path: abs,
    kind: isBlock ? 'block' : 'file',
    filesystem: mount?.fs ?? null,
    mount_point: mount?.point ?? null,
    block_device: block?.name ?? null,
    model,
    rotational: rotational === null ? null : rotational === '1',
    scheduler: /\[([^\]]+)\]/.exec(q('scheduler') ?? '')?.[1] ?? null,
    logical_block_bytes: lbs === null ? null : Number(lbs),
    write_cache: q('write_cache'),
  };
}

export function machineInfo(devicePaths: readonly string[]): MachineInfo {
  const list = cpus();
  // Several units usually share one filesystem: describe each distinct device once.
  const devices: DeviceInfo[] = [];
  const seen = new Set<string>();
  for (const p of devicePaths) {
    const d = deviceInfo(p);
    const key = d.kind === 'file' ? `${d.mount_point ?? ''}|${d.block_device ?? ''}` : d.path;
    if (seen.has(key)) continue;
    seen.add(key);
    devices.push(d);
  }
  return {
    cpu_model: list[0]?.model.trim() ?? null,
    cpus: list.length,
    memory_bytes: totalmem(),
    memory_free_bytes: freemem(),
    kernel: release(),
    os: osName(),
    node: process.version,
    load_average: loadavg().map((x) => Math.round(x * 100) / 100),
    virtualization: virtualization(),
    devices,
  };
}
