// A serializability checker for the object layer's transactions (docs/objects.md), in
// the style of Elle (Kingsbury & Alvaro): build the dependency graph of the committed
// transactions from what each one read and wrote, and look for cycles.
//
// THE MODEL. Every committed write has a version: the log address of its record (a
// transaction's commit record, or a plain update). A read names the version it saw
// (-1: no write yet). The version order of one key is the order of those addresses,
// which is the order the log put them in. A write to the whole object (a counter, a
// custom object, a map's whole-object update) writes every key; a read of the whole
// object ('' as the key: entries, size, a counter's value) sees the version of the
// last write of anything in the object.
//
// Edges between committed transactions (Adya's direct serialization graph):
//   ww  Ti -> Tj  Tj's write of a key is the next version after Ti's;
//   wr  Ti -> Tj  Tj read the version Ti wrote;
//   rw  Ti -> Tj  Ti read a version of a key, and Tj wrote the next one (an anti-dependency).
// The history is serializable with that version order if and only if the graph has no
// cycle. A read of a version no committed write made (an aborted or made-up write) is
// a violation by itself (G1a, "aborted read").
//
// brute-force.ts-style cross-check: checkSerialOrders() tries every order of a small
// history; test/check/serializability.test.ts checks the two agree.

export interface TxKey {
  readonly object: string;
  /** '' for the whole object. */
  readonly key: string;
}

export interface TxRead extends TxKey {
  /** The version it saw: the address of the write it read, -1 before any. */
  readonly version: number;
}

export interface CommittedTx {
  /** A name for the reports. */
  readonly id: string;
  /** The address of its write record (its version), or undefined for a read-only transaction. */
  readonly commit: number | undefined;
  readonly reads: readonly TxRead[];
  /** Keys written ('' for the whole object); empty for a read-only transaction. */
  readonly writes: readonly TxKey[];
}

export interface SerializabilityViolation {
  readonly kind: 'aborted-read' | 'cycle';
  readonly message: string;
}

const WHOLE = '';

function slot(object: string, key: string): string {
  return `${object}\u0000${key}`;
}

/** Per (object, key): the committed writers in version order; a whole-object write counts for every key. */
function versionOrders(txs: readonly CommittedTx[]): { writersOf: (object: string, key: string) => CommittedTx[] } {
  const byKey = new Map<string, CommittedTx[]>();
  const wholeByObject = new Map<string, CommittedTx[]>();
  const anyByObject = new Map<string, CommittedTx[]>();
  for (const t of txs) {
    if (t.commit === undefined) continue;
    const objects = new Set<string>();
    for (const w of t.writes) {
      objects.add(w.object);
      const list = w.key === WHOLE ? wholeByObject : byKey;
      const k = w.key === WHOLE ? w.object : slot(w.object, w.key);
      if (!list.has(k)) list.set(k, []);
      if (!list.get(k)!.includes(t)) list.get(k)!.push(t);
    }
    for (const o of objects) {
      if (!anyByObject.has(o)) anyByObject.set(o, []);
      anyByObject.get(o)!.push(t);
    }
  }
  const byCommit = (a: CommittedTx, b: CommittedTx): number => a.commit! - b.commit!;
  return {
    writersOf: (object, key) => {
      if (key === WHOLE) return [...(anyByObject.get(object) ?? [])].sort(byCommit);
      return [...new Set([...(byKey.get(slot(object, key)) ?? []), ...(wholeByObject.get(object) ?? [])])].sort(byCommit);
    },
  };
}

/** Every violation of serializability in the committed transactions (empty: serializable). */
export function checkSerializable(txs: readonly CommittedTx[]): SerializabilityViolation[] {
  const violations: SerializabilityViolation[] = [];
  const { writersOf } = versionOrders(txs);
  const edges = new Map<CommittedTx, Map<CommittedTx, string>>();
  const edge = (from: CommittedTx, to: CommittedTx, why: string): void => {
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, why);
  };
  const keys = new Map<string, TxKey>();
  for (const t of txs) {
    for (const w of t.writes) keys.set(slot(w.object, w.key), w);
    for (const r of t.reads) keys.set(slot(r.object, r.key), r);
  }
  for (const { object, key } of keys.values()) {
    const writers = writersOf(object, key);
    for (let i = 1; i < writers.length; i++) if (writers[i - 1] !== writers[i]) edge(writers[i - 1]!, writers[i]!, `ww ${object}/${key || '*'}`);
  }
  for (const t of txs) {
    for (const r of t.reads) {
      const writers = writersOf(r.object, r.key);
      const at = r.version < 0 ? -1 : writers.findIndex((w) => w.commit === r.version);
      if (r.version >= 0 && at < 0) {
        violations.push({ kind: 'aborted-read', message: `${t.id} read ${r.object}/${r.key || '*'} at version ${r.version}, which no committed write made` });
        continue;
      }
      if (at >= 0 && writers[at] === t) {
        violations.push({ kind: 'aborted-read', message: `${t.id} read ${r.object}/${r.key || '*'} at version ${r.version}, its own commit: a read cannot see a version made after it` });
        continue;
      }
      if (at >= 0) edge(writers[at]!, t, `wr ${r.object}/${r.key || '*'}@${r.version}`);
      const next = writers[at + 1];
      if (next !== undefined && next !== t) edge(t, next, `rw ${r.object}/${r.key || '*'}@${r.version}->${next.commit}`);
    }
  }
  for (const cycle of cycles(txs, edges)) {
    const steps = cycle.map((t, i) => `${t.id} -[${edges.get(t)!.get(cycle[(i + 1) % cycle.length]!)!}]-> `).join('');
    violations.push({ kind: 'cycle', message: `not serializable: ${steps}${cycle[0]!.id}` });
  }
  return violations;
}

/** One cycle per strongly connected component with one (Tarjan's algorithm, iteratively). */
function cycles(nodes: readonly CommittedTx[], edges: Map<CommittedTx, Map<CommittedTx, string>>): CommittedTx[][] {
  const index = new Map<CommittedTx, number>();
  const low = new Map<CommittedTx, number>();
  const onStack = new Set<CommittedTx>();
  const stack: CommittedTx[] = [];
  const out: CommittedTx[][] = [];
  let next = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: Array<{ node: CommittedTx; succ: CommittedTx[]; i: number }> = [];
    const visit = (n: CommittedTx): void => {
      index.set(n, next);
      low.set(n, next++);
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, succ: [...(edges.get(n)?.keys() ?? [])], i: 0 });
    };
    visit(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      if (top.i < top.succ.length) {
        const s = top.succ[top.i++]!;
        if (!index.has(s)) visit(s);
        else if (onStack.has(s)) low.set(top.node, Math.min(low.get(top.node)!, index.get(s)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const component: CommittedTx[] = [];
        let n: CommittedTx;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          component.push(n);
        } while (n !== top.node);
        if (component.length > 1) out.push(cycleWithin(new Set(component), edges));
      }
    }
  }
  return out;
}

/** A cycle through the nodes of one strongly connected component (BFS back to its first node). */
function cycleWithin(component: Set<CommittedTx>, edges: Map<CommittedTx, Map<CommittedTx, string>>): CommittedTx[] {
  const start = [...component][0]!;
  const parent = new Map<CommittedTx, CommittedTx>();
  const queue = [start];
  while (queue.length > 0) {
    const n = queue.shift()!;
    for (const s of edges.get(n)?.keys() ?? []) {
      if (!component.has(s)) continue;
      if (s === start) {
        const path = [n];
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!);
        return path;
      }
      if (!parent.has(s)) {
        parent.set(s, n);
        queue.push(s);
      }
    }
  }
  return [start];
}

/**
 * The brute-force answer for a small history: is there an order of the committed
 * transactions, with each key's writes in version order, in which every read sees the
 * latest write before it (or none)? Exponential: for cross-checking only.
 */
export function checkSerialOrders(txs: readonly CommittedTx[]): boolean {
  const { writersOf } = versionOrders(txs);
  const n = txs.length;
  const used = new Array<boolean>(n).fill(false);
  const order: CommittedTx[] = [];
  const valid = (): boolean => {
    const pos = new Map(order.map((t, i) => [t, i]));
    for (const t of txs) {
      for (const r of t.reads) {
        const writers = writersOf(r.object, r.key);
        // Writes of one key happen in version order.
        for (let i = 1; i < writers.length; i++) if (pos.get(writers[i - 1]!)! > pos.get(writers[i]!)!) return false;
        const before = writers.filter((w) => w !== t && pos.get(w)! < pos.get(t)!);
        const seen = before.length === 0 ? -1 : before[before.length - 1]!.commit!;
        if (seen !== r.version) return false;
      }
    }
    for (const t of txs) {
      for (const w of t.writes) {
        const writers = writersOf(w.object, w.key);
        for (let i = 1; i < writers.length; i++) if (pos.get(writers[i - 1]!)! > pos.get(writers[i]!)!) return false;
      }
    }
    return true;
  };
  const search = (): boolean => {
    if (order.length === n) return valid();
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      used[i] = true;
      order.push(txs[i]!);
      if (search()) return true;
      order.pop();
      used[i] = false;
    }
    return false;
  };
  return search();
}
