import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { FrameSigner, type Envelope } from './envelope.js';
import type { PeerHandlers, PeerLink } from './peer-link.js';
import type { PeerAddress } from './peers.js';
import { RejectionLog } from './rejection-log.js';
import { ReplayGuard } from './replay-guard.js';
import { PeerTraffic } from './traffic.js';

export interface PeerChannelOptions {
  self: string;
  /** Where to listen: loopback natively, the compose network in Docker. */
  host: string;
  port: number;
  peers: PeerAddress[];
  secret: string;
  log: (message: string, detail: Record<string, unknown>) => void;
  heartbeatMs?: number;
  /** A peer not heard from for this long is down (and its connection dropped). */
  failAfterMs?: number;
  /** Frames above this close the connection (a state-transfer batch stays well below). */
  maxFrameBytes?: number;
  /** An inbound connection must send a verified frame (peers send a heartbeat at once) by then. */
  authenticateWithinMs?: number;
}

type Pending = { to: string; resolve: (v: unknown) => void; reject: (e: Error) => void };

/** A reply to a request: the handler's value, or why it failed. */
type Reply = { ok: true; value?: unknown } | { ok: false; error: string };

/**
 * The peer channel: a WebSocket server on the replica's peer port, and one client connection to
 * each peer in the static list, kept open (reconnecting with backoff). `ws` does the framing,
 * limits frame size and answers anything that is not a WebSocket handshake; every frame is
 * HMAC-signed and replay-checked here. A replica sends on its own connection to a peer and
 * replies on the connection a request came in on.
 */
export class PeerChannel implements PeerLink {
  readonly self: string;
  readonly peers: readonly string[];
  readonly traffic = new PeerTraffic();
  private readonly epoch = Date.now();
  private seq = 0;
  private nextRequest = 1;
  private readonly signer: FrameSigner;
  private readonly guard: ReplayGuard;
  private readonly rejections: RejectionLog;
  private readonly outbound = new Map<string, WebSocket>();
  private readonly lastHeard = new Map<string, { at: number; epoch: number }>();
  private readonly live = new Set<string>();
  private readonly pending = new Map<number, Pending>();
  /** Inbound connections that have sent at least one verified frame. */
  private readonly authenticated = new WeakSet<WebSocket>();
  private readonly retryMs = new Map<string, number>();
  private handlers: PeerHandlers = { message: () => undefined };
  private beacon: () => unknown = () => null;
  private server: WebSocketServer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly heartbeatMs: number;
  private readonly failAfterMs: number;
  private readonly maxFrameBytes: number;

  constructor(private readonly o: PeerChannelOptions) {
    this.self = o.self;
    this.peers = o.peers.map((p) => p.name);
    this.signer = new FrameSigner(o.secret);
    this.guard = new ReplayGuard(o.self);
    this.rejections = new RejectionLog(o.log);
    this.heartbeatMs = o.heartbeatMs ?? 500;
    this.failAfterMs = o.failAfterMs ?? 4 * this.heartbeatMs;
    this.maxFrameBytes = o.maxFrameBytes ?? 1024 * 1024;
  }

  listen(handlers: PeerHandlers): void {
    this.handlers = handlers;
  }

  setBeacon(beacon: () => unknown): void {
    this.beacon = beacon;
  }

  /** Opens the peer port and starts connecting to every peer. */
  async start(): Promise<void> {
    const server = new WebSocketServer({
      host: this.o.host,
      port: this.o.port,
      maxPayload: this.maxFrameBytes,
      perMessageDeflate: false,
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.on('error', (err) => this.o.log('peer port error', { error: err.message }));
    server.on('connection', (socket, req) => {
      const address = req.socket.remoteAddress ?? 'unknown';
      socket.on('error', (err) => this.rejections.refused(address, err.message));
      socket.on('message', (data, isBinary) => this.receive(data, isBinary, socket, address));
      // A connection that never says anything authenticated is not kept open for free.
      const idle = setTimeout(() => {
        if (this.authenticated.has(socket)) return;
        this.rejections.refused(address, 'no authenticated frame in time');
        socket.close(1008, 'unauthenticated');
      }, this.o.authenticateWithinMs ?? 5000);
      idle.unref();
      socket.on('close', () => clearTimeout(idle));
    });
    for (const peer of this.o.peers) this.connect(peer);
    this.timer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.timer.unref();
  }

  livePeers(): string[] {
    return [...this.live];
  }

  send(to: string, body: unknown): void {
    const socket = this.outbound.get(to);
    if (socket?.readyState === WebSocket.OPEN) this.write(socket, to, 'msg', body);
  }

  request(to: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const socket = this.outbound.get(to);
    if (socket?.readyState !== WebSocket.OPEN || !this.live.has(to))
      return Promise.reject(new Error(`${to} is not connected`));
    const id = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${to} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => clearTimeout(timer);
      this.pending.set(id, {
        to,
        resolve: (v) => (done(), resolve(v)),
        reject: (e) => (done(), reject(e)),
      });
      this.write(socket, to, 'req', body, id);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const socket of this.outbound.values()) socket.terminate();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new Error('peer channel closed'));
    }
    for (const socket of this.server?.clients ?? []) socket.terminate();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  private connect(peer: PeerAddress): void {
    if (this.closed) return;
    const socket = new WebSocket(`ws://${peer.host}:${peer.port}/`, {
      perMessageDeflate: false,
      maxPayload: this.maxFrameBytes,
      handshakeTimeout: 2000,
    });
    this.outbound.set(peer.name, socket);
    socket.on('open', () => {
      this.retryMs.delete(peer.name);
      this.write(socket, peer.name, 'beat', this.beacon());
    });
    socket.on('message', (data, isBinary) => this.receive(data, isBinary, socket, peer.name));
    socket.on('error', () => undefined); // 'close' follows, and reconnects
    socket.on('close', () => {
      if (this.outbound.get(peer.name) !== socket) return;
      this.down(peer.name);
      // Back off up to 1 s: a restarted peer is found again within a second.
      const wait = Math.min((this.retryMs.get(peer.name) ?? 50) * 2, 1000);
      this.retryMs.set(peer.name, wait);
      setTimeout(() => this.connect(peer), wait).unref();
    });
  }

  private write(socket: WebSocket, to: string, kind: Envelope['kind'], body: unknown, id?: number) {
    const startedAt = PeerTraffic.clock();
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
    socket.send(frame);
    this.traffic.worked(kind, startedAt);
  }

  private receive(data: RawData, isBinary: boolean, socket: WebSocket, source: string): void {
    const receivedAt = performance.now();
    const work = PeerTraffic.clock();
    const text = isBinary ? '' : textOf(data);
    const opened = this.signer.open(text);
    if ('refused' in opened) {
      this.rejections.refused(source, opened.refused);
      // Whoever sends unauthenticated frames does not get to keep the connection.
      return void socket.close(1008, 'unauthenticated');
    }
    const e = opened.envelope;
    const replay = this.guard.check(e);
    if (replay) return this.rejections.refused(e.from, replay);
    if (!this.peers.includes(e.from))
      return this.rejections.refused(e.from, 'not in the peer list');
    this.authenticated.add(socket);
    this.traffic.received(e.kind, text.length);
    this.heard(e.from, e.epoch);
    this.dispatch(e, socket, receivedAt);
    this.traffic.worked(e.kind, work);
  }

  private dispatch(e: Envelope, socket: WebSocket, receivedAt: number): void {
    switch (e.kind) {
      case 'beat':
        return this.safely(() => this.handlers.beacon?.(e.from, e.body));
      case 'msg':
        return this.safely(() => this.handlers.message(e.from, e.body, receivedAt));
      case 'req':
        return void this.answer(e, socket);
      case 'res':
        return this.settle(e);
    }
  }

  private async answer(e: Envelope, socket: WebSocket): Promise<void> {
    let reply: Reply;
    try {
      reply = { ok: true, value: await this.handlers.message(e.from, e.body) };
    } catch (err) {
      reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (socket.readyState === WebSocket.OPEN) this.write(socket, e.from, 'res', reply, e.id);
  }

  private settle(e: Envelope): void {
    const p = e.id === undefined ? undefined : this.pending.get(e.id);
    if (!p || p.to !== e.from) return;
    this.pending.delete(e.id!);
    const reply = e.body as Reply | null;
    if (reply?.ok === true) p.resolve(reply.value ?? null);
    else
      p.reject(new Error(`${e.from} failed: ${reply?.ok === false ? reply.error : 'bad reply'}`));
  }

  private safely(work: () => unknown): void {
    try {
      const result = work();
      if (result instanceof Promise)
        result.catch((err: unknown) => this.o.log('peer message failed', { error: String(err) }));
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
    if (!this.live.has(peer) && this.outbound.get(peer)?.readyState === WebSocket.OPEN) {
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
    for (const [peer, socket] of this.outbound) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      const heard = this.lastHeard.get(peer)?.at ?? 0;
      if (this.live.has(peer) && now - heard > this.failAfterMs) {
        // Silent too long (stopped, partitioned): drop it; reconnecting finds it again.
        this.down(peer);
        socket.terminate();
        continue;
      }
      this.write(socket, peer, 'beat', this.beacon());
    }
  }
}

/** A text frame's content; ws hands it over as one Buffer, fragments, or an ArrayBuffer. */
function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}
