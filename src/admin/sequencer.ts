// The sequencer's admin sources: metrics (an observer of every answer, and
// gauges read from the state machine at scrape time), readiness and /status.
//
// Bootstrapped: the sequencer has answered a BOOTSTRAP (a layout init or a
// reconfiguration moved it to its epoch above every written address), or it
// was started at an epoch above 0 (an operator did that by hand). Until then
// its tokens may lie below addresses the units hold: a standby is not ready.

import { Counter, Gauge } from 'prom-client';

import type { SequencerObserver, SequencerServer } from '../sequencer/server.js';
import type { Response } from '../wire/messages.js';
import type { AdminSources } from './listener.js';
import { mirroredCounter, serverRegistry } from './registry.js';

export interface SequencerAdmin extends AdminSources {
  readonly observer: SequencerObserver;
}

/** `server()`: undefined until it listens. */
export function sequencerAdmin(server: () => SequencerServer | undefined, startEpoch: number): SequencerAdmin {
  const registry = serverRegistry();
  const registers = [registry];
  let bootstrapped = startEpoch > 0;
  const requests = new Counter({
    name: 'corfu_sequencer_requests_total',
    help: 'requests answered, by opcode',
    labelNames: ['op'],
    registers,
    // The native front counts its TOKENs on its own thread: bring them in before a scrape.
    collect() {
      server()?.syncObserver();
    },
  });
  const errors = new Counter({
    name: 'corfu_sequencer_request_errors_total',
    help: 'requests answered with an error (ERR_SEALED, ERR_FULL, ERR_RECOVERING, ...), by opcode and code',
    labelNames: ['op', 'code'],
    registers,
  });
  mirroredCounter(registry, 'corfu_sequencer_tokens_total', 'tokens (log addresses) handed out since the process started', () => server()?.tokensIssued ?? 0);
  const gauge = (name: string, help: string, read: (s: SequencerServer) => number): Gauge =>
    new Gauge({
      name,
      help,
      registers,
      collect(this: Gauge) {
        const s = server();
        this.reset();
        if (s !== undefined) this.set(read(s));
      },
    });
  gauge('corfu_sequencer_epoch', "the sequencer's epoch", (s) => s.sequencer.epoch);
  gauge('corfu_sequencer_tail', 'the next token: every address handed out is below it', (s) => s.sequencer.nextToken);
  gauge('corfu_sequencer_streams', 'streams whose tails it keeps', (s) => s.sequencer.snapshot().streams.streams);
  gauge('corfu_sequencer_connections', 'client connections open', (s) => s.connections);
  gauge('corfu_sequencer_tail_waiters', 'WAIT_TAIL long polls parked', (s) => s.waiting);
  gauge('corfu_sequencer_bootstrapped', '1 once it answered a BOOTSTRAP (or started at an epoch above 0)', () => (bootstrapped ? 1 : 0));

  const observer: SequencerObserver = {
    answered(res: Response): void {
      requests.inc({ op: res.op });
      if (res.status !== 'OK') errors.inc({ op: res.op, code: res.status });
      else if (res.op === 'BOOTSTRAP') bootstrapped = true;
    },
    answeredTokens(n: number): void {
      requests.inc({ op: 'TOKEN' }, n);
    },
  };
  return {
    registry,
    observer,
    checks: [
      { name: 'listener', check: () => (server() === undefined ? 'not listening for requests yet' : undefined) },
      { name: 'bootstrapped', check: () => (bootstrapped ? undefined : 'no BOOTSTRAP yet: a standby, or the layout was not initialised (corfu layout init)') },
    ],
    status: () => {
      const s = server();
      const snap = s?.sequencer.snapshot();
      return {
        role: 'sequencer',
        listen: s === undefined ? null : `${s.address.host}:${s.address.port}`,
        bootstrapped,
        epoch: snap?.epoch ?? null,
        tail: snap?.nextToken ?? null,
        tokensIssued: s?.tokensIssued ?? null,
        streams: snap?.streams.streams ?? null,
        streamTailsRecovered: snap?.streams.recovered ?? null,
        connections: s?.connections ?? 0,
        tailWaiters: s?.waiting ?? 0,
      };
    },
  };
}
