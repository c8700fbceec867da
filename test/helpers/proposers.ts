// Racing proposers in separate processes (test/fixtures/projection-proposer.mjs),
// each with its own store on one URL: `race(epoch)` releases all of them at
// once for that epoch and collects every answer.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PROPOSER = fileURLToPath(new URL('../fixtures/projection-proposer.mjs', import.meta.url));

export interface ProposerResult {
  readonly epoch: number;
  readonly accepted?: boolean;
  readonly winner?: unknown;
  readonly error?: string;
}

export interface Proposers {
  race(epoch: number): Promise<ProposerResult[]>;
  close(): Promise<void>;
}

interface Child {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: Interface;
  next(): Promise<string>;
}

function startOne(url: string, id: number): Child {
  const child = spawn(process.execPath, [PROPOSER, url, String(id)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  const queue: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  lines.on('line', (line) => {
    const w = waiters.shift();
    if (w) w(line);
    else queue.push(line);
  });
  const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`proposer ${id} exited (${code}): ${stderr}`))));
  exited.catch(() => undefined);
  const next = (): Promise<string> => Promise.race([queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise<string>((res) => waiters.push(res)), exited]);
  return { child, lines, next };
}

/** Starts `count` proposer processes on `url` and waits until each is ready. */
export async function startProposers(url: string, count: number): Promise<Proposers> {
  const children = Array.from({ length: count }, (_, id) => startOne(url, id));
  const close = async (): Promise<void> => {
    for (const c of children) {
      c.child.stdin.end();
      c.lines.close();
    }
    await Promise.all(children.filter((c) => c.child.exitCode === null && c.child.signalCode === null).map((c) => new Promise((res) => c.child.on('exit', res))));
  };
  try {
    for (const c of children) {
      const line = await c.next();
      if (line !== 'ready') throw new Error(`a proposer said '${line}' instead of ready`);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    race: async (epoch) => {
      for (const c of children) c.child.stdin.write(`go ${epoch}\n`);
      return Promise.all(children.map(async (c) => JSON.parse(await c.next()) as ProposerResult));
    },
    close,
  };
}
