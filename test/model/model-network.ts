import { defined } from '../../src/common/defined.js';
import type { PeerHandlers, PeerLink } from '../../src/replication/core/peer-link.js';

interface Message {
  from: string;
  to: string;
  /** The connection and direction; on one link, only the oldest can be delivered. */
  link: string;
  deliver: () => void;
}

/**
 * For the model test: an in-memory network between replicas whose deliveries the test performs
 * one by one, in any order the real channel allows — so it can delay, reorder and (by crashing
 * the receiver) lose any message. The channel is one TCP connection per replica and peer: what a
 * replica sends a peer (messages and requests, on its own connection) arrives in the order sent,
 * and so do the replies that come back on it; what travels on different connections interleaves
 * freely. Like TCP, what a replica sent before it crashed may still arrive; what is addressed
 * to a crashed replica is lost, and its pending requests fail.
 */
export class ModelNetwork {
  inFlight: Message[] = [];
  private readonly nodes = new Map<string, ModelNode>();

  constructor(readonly names: readonly string[]) {}

  join(name: string): ModelNode {
    const node = new ModelNode(
      this,
      name,
      this.names.filter((n) => n !== name),
    );
    this.nodes.set(name, node);
    // As the real channel's replay guard: once the new incarnation is heard, what the old one
    // sent and is still on its way is refused.
    this.inFlight = this.inFlight.filter((m) => m.from !== name);
    for (const other of this.nodes.values()) if (other !== node) other.up(name);
    return node;
  }

  /** `dropSent`: what it sent is lost too (it died before its sends left the machine). */
  crash(name: string, o: { dropSent?: boolean } = {}): void {
    const node = this.nodes.get(name);
    this.nodes.delete(name);
    this.inFlight = this.inFlight.filter((m) => m.to !== name && !(o.dropSent && m.from === name));
    for (const other of this.nodes.values()) other.lost(name);
    node?.lost('*');
    if (node) node.dead = true;
  }

  node(name: string): ModelNode | undefined {
    return this.nodes.get(name);
  }

  /**
   * Delivers one message: of those that may arrive next (the oldest on each link), the one at
   * `index` (modulo their number); false when none is in flight.
   */
  deliver(index: number): boolean {
    const next: Message[] = [];
    const seen = new Set<string>();
    for (const m of this.inFlight) {
      if (!seen.has(m.link)) next.push(m);
      seen.add(m.link);
    }
    if (next.length === 0) return false;
    const m = defined(next[index % next.length], 'a message that may arrive next');
    this.inFlight.splice(this.inFlight.indexOf(m), 1);
    m.deliver();
    return true;
  }

  /** One heartbeat from every replica to every other, delivered at once. */
  heartbeats(): void {
    for (const from of this.nodes.values())
      for (const to of this.nodes.values()) if (from !== to) to.hear(from.self, from.beaconNow());
  }
}

export class ModelNode implements PeerLink {
  private handlers: PeerHandlers = { message: () => undefined };
  private beacon: () => unknown = () => null;
  private readonly pending = new Map<number, { to: string; reject: (e: Error) => void }>();
  private nextId = 1;
  /** A crashed replica's code may still run a little (pending promises); it sends nothing. */
  dead = false;

  constructor(
    private readonly net: ModelNetwork,
    readonly self: string,
    readonly peers: readonly string[],
  ) {}

  livePeers(): string[] {
    return this.peers.filter((p) => this.net.node(p));
  }

  listen(handlers: PeerHandlers): void {
    this.handlers = handlers;
  }

  setBeacon(beacon: () => unknown): void {
    this.beacon = beacon;
  }

  beaconNow(): unknown {
    return this.beacon();
  }

  hear(from: string, beacon: unknown): void {
    this.handlers.beacon?.(from, beacon);
  }

  send(to: string | readonly string[], body: unknown): void {
    if (this.dead) return;
    for (const peer of typeof to === 'string' ? [to] : to) {
      const copy = structuredClone(body);
      this.net.inFlight.push({
        from: this.self,
        to: peer,
        link: `${this.self}->${peer}`,
        deliver: () => void this.net.node(peer)?.handlers.message(this.self, copy),
      });
    }
  }

  request(to: string, body: unknown): Promise<unknown> {
    if (this.dead || !this.net.node(to)) return Promise.reject(new Error(`${to} is down`));
    const id = this.nextId++;
    const copy = structuredClone(body);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { to, reject });
      this.net.inFlight.push({
        from: this.self,
        to,
        link: `${this.self}->${to}`,
        deliver: () => {
          // A crash drops what is addressed to the crashed replica: the target is up.
          const target = defined(this.net.node(to), `${to} up to take the request`);
          // A handler may answer later (a promise), as over the real channel; the reply travels
          // back as a message of its own once it is there, lost if the requester crashed.
          const answer = (reply: unknown, failed?: Error) =>
            this.net.inFlight.push({
              from: to,
              to: this.self,
              link: `${this.self}<-${to}`,
              deliver: () => {
                if (!this.pending.delete(id) || this.net.node(this.self) !== this) return;
                if (failed) reject(failed);
                else resolve(reply ?? null);
              },
            });
          let value: unknown;
          try {
            value = target.handlers.message(this.self, copy);
          } catch (err) {
            return answer(undefined, err as Error);
          }
          if (!(value instanceof Promise)) return answer(structuredClone(value));
          value.then(
            (reply) => {
              if (this.net.node(to) === target) answer(structuredClone(reply));
            },
            (err: unknown) => {
              if (this.net.node(to) === target) answer(undefined, err as Error);
            },
          );
        },
      });
    });
  }

  /** `peer` joined (or came back). */
  up(peer: string): void {
    this.handlers.peerUp?.(peer);
  }

  /** `peer` crashed ('*': this node itself did): its requests will never be answered. */
  lost(peer: string): void {
    for (const [id, p] of this.pending) {
      if (peer !== '*' && p.to !== peer) continue;
      this.pending.delete(id);
      p.reject(new Error(`${p.to} crashed`));
    }
    if (peer !== '*') this.handlers.peerDown?.(peer);
  }
}

/**
 * The model's waits (a start's time limit, the look for a ready peer): none ends. Its time moves
 * only as the replicas read it, so a transfer is never cut short by a timer the test does not drive.
 */
export const neverEnds = (): Promise<void> => new Promise<void>(() => undefined);
