// The server end of the simulated links (network.ts): accepts links while its
// process runs, decodes each frame with the real codec, hands the request to
// the node (a unit's handler, the sequencer), and encodes the answer back. A
// frame that does not decode as a request resets the link, as the real
// servers drop a connection on a protocol error. A crash resets every link it
// had (the host's kernel tells the peers), and a restarted process knows none.

import { decodeFrame, encodeResponse } from '../../src/wire/codec.js';
import type { Request, Response } from '../../src/wire/messages.js';
import type { Envelope, Network } from './network.js';

/**
 * Answers one request: with its response, or undefined when there is no answer
 * now — the node died on it, or it will answer later through `reply` (a
 * parked long poll). `reply` sends only while the process and the link live.
 */
export type Serve = (req: Request, reply: (res: Response) => void) => Response | undefined | Promise<Response | undefined>;

export class LinkServer {
  readonly #node: string;
  readonly #net: Network;
  /** Link -> the peer that opened it, for this process's lifetime. */
  readonly #links = new Map<number, string>();
  #up = false;

  constructor(node: string, net: Network) {
    this.#node = node;
    this.#net = net;
  }

  /** The process starts: it listens. */
  start(serve: Serve): void {
    this.#up = true;
    this.#net.attach(this.#node, (env) => this.#receive(env, serve));
  }

  /** The process dies: every link it had is reset (a reply to a request it took before is dropped). */
  stop(): void {
    if (!this.#up) return;
    this.#up = false;
    this.#net.detach(this.#node);
    for (const [link, peer] of this.#links) this.#net.send(this.#node, peer, { kind: 'reset', link });
    this.#links.clear();
  }

  async #receive(env: Envelope, serve: Serve): Promise<void> {
    const { packet, from } = env;
    switch (packet.kind) {
      case 'open':
        this.#links.set(packet.link, from);
        this.#net.send(this.#node, from, { kind: 'accept', link: packet.link });
        return;
      case 'fin':
        this.#links.delete(packet.link);
        return;
      case 'frame': {
        if (!this.#links.has(packet.link)) {
          this.#net.send(this.#node, from, { kind: 'reset', link: packet.link });
          return;
        }
        const decoded = decodeFrame(packet.bytes);
        if (decoded.kind !== 'frame' || decoded.frame.type !== 'request' || decoded.bytes !== packet.bytes.length) {
          this.#links.delete(packet.link);
          this.#net.send(this.#node, from, { kind: 'reset', link: packet.link });
          return;
        }
        const link = packet.link;
        const reply = (res: Response): void => {
          // Dead by now (it crashed on this request), or the link was reset meanwhile.
          if (!this.#up || !this.#links.has(link)) return;
          this.#net.send(this.#node, from, { kind: 'frame', link, bytes: encodeResponse(res) });
        };
        const res = await serve(decoded.frame, reply);
        if (res !== undefined) reply(res);
        return;
      }
      default:
        return; // accept/refuse/reset are for clients
    }
  }
}
