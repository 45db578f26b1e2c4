import { WebSocket, type RawData } from 'ws';
import { FrameCheck, verified, type InboundFrame } from './inbound-port.js';
import type { PeerAddress } from './peers.js';
import type { WorkMeter } from './thread-cpu.js';

export interface OutboundOptions {
  self: string;
  peerAddresses: PeerAddress[];
  secret: string;
  maxFrameBytes: number;
}

export interface OutboundEvents {
  /** The connection to `peer` is open: frames sent to it from now on go out. */
  open(peer: string): void;
  /** It closed (or never opened): frames to `peer` are dropped until it opens again. */
  closed(peer: string): void;
  /** A verified frame that came back on it (a reply to one of our requests). */
  frame(f: InboundFrame): void;
  log(message: string, detail: Record<string, unknown>): void;
}

/**
 * This replica's own connection to each peer in the static list, kept open: reconnecting with a
 * backoff of up to 1 s, so a restarted peer is found again within a second. This replica's
 * messages, requests and heartbeats go out on it; what comes back (replies) passes the same checks
 * as everything from a peer. It runs beside the peer port (see peer-io.ts).
 */
export class OutboundLinks {
  private readonly sockets = new Map<string, WebSocket>();
  private readonly retryMs = new Map<string, number>();
  private readonly check: FrameCheck;
  private closed = false;

  constructor(
    private readonly o: OutboundOptions,
    private readonly events: OutboundEvents,
    private readonly meter?: WorkMeter,
  ) {
    this.check = new FrameCheck(
      { self: o.self, secret: o.secret, peers: o.peerAddresses.map((p) => p.name) },
      (message, detail) => events.log(message, detail),
    );
  }

  start(): void {
    for (const peer of this.o.peerAddresses) this.connect(peer);
  }

  /** A sealed frame to `peer`; dropped when the connection is not open. */
  send(peer: string, frame: string): void {
    const socket = this.sockets.get(peer);
    if (socket?.readyState === WebSocket.OPEN) socket.send(frame);
  }

  /** Drops the connection (a peer silent too long); it reconnects as after any close. */
  drop(peer: string): void {
    this.sockets.get(peer)?.terminate();
  }

  close(): void {
    this.closed = true;
    for (const socket of this.sockets.values()) socket.terminate();
  }

  private connect(peer: PeerAddress): void {
    if (this.closed) return;
    const socket = new WebSocket(`ws://${peer.host}:${peer.port}/`, {
      perMessageDeflate: false,
      maxPayload: this.o.maxFrameBytes,
      handshakeTimeout: 2000,
    });
    this.sockets.set(peer.name, socket);
    socket.on('open', () => {
      this.retryMs.delete(peer.name);
      this.events.open(peer.name);
    });
    socket.on('message', (data, isBinary) => this.receive(data, isBinary, socket, peer.name));
    socket.on('error', () => undefined); // 'close' follows, and reconnects
    socket.on('close', () => {
      if (this.sockets.get(peer.name) !== socket) return;
      this.events.closed(peer.name);
      if (this.closed) return;
      const wait = Math.min((this.retryMs.get(peer.name) ?? 50) * 2, 1000);
      this.retryMs.set(peer.name, wait);
      setTimeout(() => this.connect(peer), wait).unref();
    });
  }

  private receive(data: RawData, isBinary: boolean, socket: WebSocket, peer: string): void {
    this.meter?.begin();
    const passed = this.check.pass(data, isBinary, socket, peer);
    if (!passed) return;
    this.meter?.is(passed.envelope.kind);
    this.events.frame(verified(passed.envelope, passed.text));
  }
}
