// Which local process listens on a TCP port: /proc/net/tcp{,6} gives the listening
// socket's inode, /proc/PID/fd/* the process holding it. This is how a benchmark
// against `--layout URL` finds the units and the sequencer of a cluster that runs on
// this machine (whoever started it) to measure their CPU. A server on another machine,
// or a process of another user we may not inspect, is simply not found.

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const LISTEN = '0A';

function listeningInodes(): Map<number, Set<string>> {
  const byPort = new Map<number, Set<string>>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || f[3] !== LISTEN) continue;
      const port = parseInt(f[1]!.split(':')[1] ?? '', 16);
      const inode = f[9]!;
      if (!Number.isFinite(port) || inode === '0') continue;
      const set = byPort.get(port) ?? new Set<string>();
      set.add(inode);
      byPort.set(port, set);
    }
  }
  return byPort;
}

/** The pid listening on each of `ports` on this machine, where one is found. */
export function pidsListeningOn(ports: readonly number[]): Map<number, number> {
  const inodes = listeningInodes();
  const wanted = new Map<string, number>();
  for (const port of ports) for (const inode of inodes.get(port) ?? []) wanted.set(`socket:[${inode}]`, port);
  const found = new Map<number, number>();
  if (wanted.size === 0) return found;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return found;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const port = wanted.get(link);
      if (port !== undefined && !found.has(port)) found.set(port, Number(pid));
    }
    if (found.size === wanted.size) break;
  }
  return found;
}

const LOCAL_HOST = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\]|0\.0\.0\.0)$/i;

/** The port of a HOST:PORT on this machine (loopback), or undefined for another host. */
export function localPort(address: string): number | undefined {
  const cut = address.lastIndexOf(':');
  if (cut < 0 || !LOCAL_HOST.test(address.slice(0, cut))) return undefined;
  const port = Number(address.slice(cut + 1));
  return Number.isInteger(port) ? port : undefined;
}
