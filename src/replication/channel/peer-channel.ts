import { FrameSigner, type Envelope } from './envelope.js';
import type { InboundFrame } from './inbound-port.js';
import { InlineIo, ThreadIo, type Outgoing, type PeerIo } from './peer-io.js';
import type { PeerHandlers, PeerLink } from '../core/peer-link.js';
import { addressKey, StaticMembership, type MemberAddress, type Membership } from './membership.js';
import type { PeerAddress } from './peers.js';
import type { ThreadPriority } from './thread-priority.js';
import { PeerTraffic } from './traffic.js';

export interface PeerChannelOptions {
  self: string;
  /** Where to listen: loopback natively, the compose network in Docker. */
  host: string;
  port: number;
  /** Who may be a peer: a static list, or a membership source whose members change (membership.ts). */
  peers: PeerAddress[] | Membership;
  secret: string;
  log: (message: string, detail: Record<string, unknown>) => void;
  heartbeatMs?: number;
  /** A peer not heard from for this long is down (and its connection dropped). */
  failAfterMs?: number;
  /** Frames above this close the connection (a state-transfer batch stays well below). */
  maxFrameBytes?: number;
  /** An inbound connection must send a verified frame (peers send a heartbeat at once) by then. */
  authenticateWithinMs?: number;
  /**
   * Where the sockets run: on a thread of their own (a replica), or on the caller's (unit tests:
   * Jest runs TypeScript, which a worker thread cannot load).
   */
  io?: 'thread' | 'inline';
  /** What the sockets' thread asks for (default realtime, see thread-priority.ts). */
  threadPriority?: ThreadPriority;
}

type Pending = { to: string; resolve: (v: unknown) => void; reject: (e: Error) => void };

/** A reply to a request: the handler's value, or why it failed. */
type Reply = { ok: true; value?: unknown } | { ok: false; error: string };

/**
 * The peer channel: a WebSocket server on the replica's peer port (InboundPort), and one client
 * connection to each member address, kept open as members come and go (OutboundLinks, fed by a
 * membership source: a static list, a file, DNS); both on a thread of
 * their own (see peer-io.ts). `ws` does the framing, limits frame size and answers anything that
 * is not a WebSocket handshake; every frame is HMAC-signed and replay-checked. A replica sends on
 * its own connection to a peer and replies on the connection a request came in on. Here, on the
 * main thread: sealing, requests and their replies, heartbeats and who is live.
 */
export class PeerChannel implements PeerLink {
  readonly self: string;
  readonly traffic = new PeerTraffic();
  private readonly epoch = Date.now();
  private seq = 0;
  private nextRequest = 1;
  private readonly signer: FrameSigner;
  /** Peers whose connection (ours, to them) is open. */
  private readonly open = new Set<string>();
  private readonly lastHeard = new Map<string, { at: number; epoch: number }>();
  private readonly live = new Set<string>();
  private readonly pending = new Map<number, Pending>();
  private handlers: PeerHandlers = { message: () => undefined };
  private beacon: () => unknown = () => null;
  private io: PeerIo | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeatMs: number;
  private readonly failAfterMs: number;
  private readonly maxFrameBytes: number;
  private readonly membership: Membership;
  /** The current member addresses, and the name each proved to have (once connected). */
  private members: MemberAddress[] = [];
  private readonly proved = new Map<string, string>();

  constructor(private readonly o: PeerChannelOptions) {
    this.self = o.self;
    this.membership = Array.isArray(o.peers) ? new StaticMembership(o.peers) : o.peers;
    this.signer = new FrameSigner(o.secret);
    this.heartbeatMs = o.heartbeatMs ?? 500;
    this.failAfterMs = o.failAfterMs ?? 4 * this.heartbeatMs;
    this.maxFrameBytes = o.maxFrameBytes ?? 1024 * 1024;
  }

  /**
   * Every member this replica knows of, live or not: by name where it is known (listed, or proved
   * in a handshake), else as `?host:port` (an address not reached yet: never live, so a starting
   * replica does not take the cluster for all-new while someone may still hold sessions).
   */
  get peers(): string[] {
    const names = this.members.map(
      (m) => this.proved.get(addressKey(m)) ?? m.name ?? `?${addressKey(m)}`,
    );
    return [...new Set(names)].filter((n) => n !== this.self);
  }

  listen(handlers: PeerHandlers): void {
    this.handlers = handlers;
  }

  setBeacon(beacon: () => unknown): void {
    this.beacon = beacon;
  }

  /** Opens the peer port and starts connecting to every peer. */
  async start(): Promise<void> {
    const options = {
      self: this.self,
      host: this.o.host,
      port: this.o.port,
      peers: this.membership.fixedNames,
      secret: this.o.secret,
      maxFrameBytes: this.maxFrameBytes,
      authenticateWithinMs: this.o.authenticateWithinMs ?? 5000,
      threadPriority: this.o.threadPriority ?? 'realtime',
    };
    const events = {
      frame: (f: InboundFrame) => {
        this.inbound(f);
      },
      open: (peer: string, address: string) => {
        this.proved.set(address, peer);
        this.open.add(peer);
        this.transmit([{ to: peer, kind: 'beat', body: this.beacon() }]);
      },
      closed: (peer: string) => {
        this.open.delete(peer);
        this.down(peer);
      },
      ownAddress: (address: string) => this.proved.set(address, this.self),
      log: (message: string, detail: Record<string, unknown>) => {
        this.o.log(message, detail);
      },
    };
    this.io =
      this.o.io === 'inline' ? new InlineIo(options, events) : new ThreadIo(options, events);
    await this.io.start();
    await this.membership.start((members) => {
      this.members = members;
      const current = new Set(members.map(addressKey));
      for (const key of this.proved.keys()) if (!current.has(key)) this.proved.delete(key);
      this.io?.setMembers(members);
    });
    this.timer = setInterval(() => {
      this.heartbeat();
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** Applies, now, every frame the channel's thread has received and not yet handed over. */
  drain(): void {
    this.io?.drain();
  }

  livePeers(): string[] {
    return [...this.live];
  }

  send(to: string | readonly string[], body: unknown): void {
    const peers = typeof to === 'string' ? [to] : to;
    this.transmit(peers.filter((p) => this.open.has(p)).map((p) => ({ to: p, kind: 'msg', body })));
  }

  request(to: string, body: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.open.has(to) || !this.live.has(to))
      return Promise.reject(new Error(`${to} is not connected`));
    const id = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${to} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
      };
      this.pending.set(id, {
        to,
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.transmit([{ to, kind: 'req', body, id }]);
    });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.membership.close();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new Error('peer channel closed'));
    }
    await this.io?.close();
  }

  /**
   * Seals each frame and hands them to the channel's thread together. The work here is counted
   * before the hand-over: the thread it wakes may take this core at once, and the process's CPU
   * time would then count the thread's writing, which the thread counts itself, twice.
   */
  private transmit(
    frames: Array<{ to: string; kind: Envelope['kind']; body: unknown; id?: number }>,
  ) {
    const [first] = frames;
    if (!first) return;
    const startedAt = PeerTraffic.clock();
    const out: Outgoing[] = frames.map((f) => ({
      to: f.to,
      kind: f.kind,
      frame: this.seal(f.to, f.kind, f.body, f.id),
    }));
    this.traffic.worked(first.kind, startedAt);
    this.io?.send(out);
  }

  private seal(to: string, kind: Envelope['kind'], body: unknown, id?: number): string {
    const frame = this.signer.seal({
      v: 1,
      from: this.self,
      to,
      epoch: this.epoch,
      seq: ++this.seq,
      ts: Date.now(),
      kind,
      ...(id === undefined ? {} : { id }),
      body,
    });
    this.traffic.sent(kind, frame.length);
    return frame;
  }

  /** A frame from a peer, verified by the channel's thread: counted and handled here. */
  private inbound(f: InboundFrame): void {
    const work = PeerTraffic.clock();
    const e = f.envelope;
    for (const [kind, micros] of Object.entries(f.work ?? {}))
      this.traffic.workMicros[kind as Envelope['kind']] += micros;
    this.traffic.received(e.kind, f.bytes);
    this.heard(e.from, e.epoch);
    this.dispatch(e, f.conn, f.receivedAt);
    this.traffic.worked(e.kind, work);
  }

  /** `conn`: the peer port's connection the frame came in on (undefined: one of ours). */
  private dispatch(e: Envelope, conn: number | undefined, receivedAt: number): void {
    switch (e.kind) {
      case 'beat': {
        this.safely(() => this.handlers.beacon?.(e.from, e.body));
        return;
      }
      case 'msg': {
        this.safely(() => this.handlers.message(e.from, e.body, receivedAt));
        return;
      }
      case 'req':
        return conn === undefined ? undefined : void this.answer(e, conn);
      case 'res': {
        this.settle(e);
        return;
      }
    }
  }

  private async answer(e: Envelope, conn: number): Promise<void> {
    let reply: Reply;
    try {
      reply = { ok: true, value: await this.handlers.message(e.from, e.body) };
    } catch (err) {
      reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    const startedAt = PeerTraffic.clock();
    const frame = this.seal(e.from, 'res', reply, e.id);
    this.traffic.worked('res', startedAt); // before the hand-over: see transmit
    this.io?.reply(conn, frame);
  }

  private settle(e: Envelope): void {
    if (e.id === undefined) return;
    const p = this.pending.get(e.id);
    if (!p || p.to !== e.from) return;
    this.pending.delete(e.id);
    const reply = e.body as Reply | null;
    if (reply?.ok === true) p.resolve(reply.value ?? null);
    else
      p.reject(new Error(`${e.from} failed: ${reply?.ok === false ? reply.error : 'bad reply'}`));
  }

  private safely(work: () => unknown): void {
    try {
      const result = work();
      if (result instanceof Promise)
        result.catch((err: unknown) => {
          this.o.log('peer message failed', { error: String(err) });
        });
    } catch (err) {
      this.o.log('peer message failed', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private heard(peer: string, epoch: number): void {
    const before = this.lastHeard.get(peer);
    // A new incarnation: whatever we waited for from the old one will not come.
    if (before && before.epoch !== epoch) this.down(peer);
    this.lastHeard.set(peer, { at: Date.now(), epoch });
    if (!this.live.has(peer) && this.open.has(peer)) {
      this.live.add(peer);
      this.safely(() => this.handlers.peerUp?.(peer));
    }
  }

  private down(peer: string): void {
    for (const [id, p] of this.pending) {
      if (p.to !== peer) continue;
      this.pending.delete(id);
      p.reject(new Error(`${peer} went down`));
    }
    if (!this.live.delete(peer)) return;
    this.safely(() => this.handlers.peerDown?.(peer));
  }

  private heartbeat(): void {
    const now = Date.now();
    const beats: Array<{ to: string; kind: 'beat'; body: unknown }> = [];
    for (const peer of this.open) {
      const heard = this.lastHeard.get(peer)?.at ?? 0;
      if (this.live.has(peer) && now - heard > this.failAfterMs) {
        // Silent too long (stopped, partitioned): drop it; reconnecting finds it again.
        this.down(peer);
        this.io?.drop(peer);
        continue;
      }
      beats.push({ to: peer, kind: 'beat', body: this.beacon() });
    }
    this.transmit(beats);
  }
}
