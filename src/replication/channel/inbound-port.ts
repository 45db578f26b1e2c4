import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { FrameSigner, type Envelope } from './envelope.js';
import { RejectionLog } from '../core/rejection-log.js';
import { ReplayGuard } from './replay-guard.js';
import type { WorkByKind, WorkMeter } from './thread-cpu.js';

/** The handshake: a connecting peer's random challenge, and the answer's name and proof. */
export const CHALLENGE_HEADER = 'x-peer-challenge';
export const NAME_HEADER = 'x-peer-name';
export const PROOF_HEADER = 'x-peer-proof';
export const CHALLENGE = /^[A-Za-z0-9_-]{16,64}$/;

export interface InboundOptions {
  self: string;
  /** Where to listen: loopback natively, the compose network in Docker. */
  host: string;
  port: number;
  /**
   * Names of the peers whose frames are accepted (a static peer list), or null: any sender that
   * holds the cluster secret (membership by DNS or a file, where members come and go).
   */
  peers: string[] | null;
  secret: string;
  maxFrameBytes: number;
  /** An inbound connection must send a verified frame (peers send a heartbeat at once) by then. */
  authenticateWithinMs: number;
}

/** A frame that passed every check, with where it came in (to reply on) and what it cost. */
export interface InboundFrame {
  envelope: Envelope;
  /**
   * The peer port's connection it came in on, where a reply to a request goes back; undefined on
   * this replica's own connection to the peer (a reply to one of our requests).
   */
  conn?: number;
  bytes: number;
  /**
   * When it passed the checks and was handed on: from then on every read on this replica sees it.
   * Epoch ms with a fraction, comparable across threads.
   */
  receivedAt: number;
  /** CPU µs the channel's thread spent, by frame kind, since the last frame handed over. */
  work?: WorkByKind;
}

/** A frame that passed the checks, handed on now. */
export function verified(envelope: Envelope, text: string, conn?: number): InboundFrame {
  return {
    envelope,
    ...(conn === undefined ? {} : { conn }),
    bytes: text.length,
    receivedAt: performance.timeOrigin + performance.now(),
  };
}

export interface InboundEvents {
  frame(f: InboundFrame): void;
  log(message: string, detail: Record<string, unknown>): void;
}

/**
 * The replica's peer port: a WebSocket server that takes frames from peers and passes on only
 * those that are signed with the cluster secret, fresh (replay guard) and from a listed peer.
 * Whoever sends anything else is logged (once per interval) and disconnected; a connection that
 * sends nothing verified in time is closed. It runs on a thread of its own in a replica (see
 * peer-io.ts), or inline where a test wants everything on one thread.
 */
export class InboundPort {
  private readonly check: FrameCheck;
  private readonly signer: FrameSigner;
  private readonly sockets = new Map<number, WebSocket>();
  /** Inbound connections that have sent at least one verified frame. */
  private readonly authenticated = new WeakSet<WebSocket>();
  private server: WebSocketServer | undefined;
  private nextConn = 1;

  constructor(
    private readonly o: InboundOptions,
    private readonly events: InboundEvents,
    /** Counts the CPU per frame kind where the port has a thread of its own. */
    private readonly meter?: WorkMeter,
  ) {
    this.check = new FrameCheck(o, (message, detail) => {
      events.log(message, detail);
    });
    this.signer = new FrameSigner(o.secret);
  }

  async start(): Promise<void> {
    const server = new WebSocketServer({
      host: this.o.host,
      port: this.o.port,
      maxPayload: this.o.maxFrameBytes,
      perMessageDeflate: false,
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.on('error', (err) => {
      this.events.log('peer port error', { error: err.message });
    });
    // The handshake's answer to a peer's challenge: who we are, and proof that we hold the secret.
    server.on('headers', (headers, req) => {
      const challenge = req.headers[CHALLENGE_HEADER];
      if (typeof challenge !== 'string' || !CHALLENGE.test(challenge)) return;
      headers.push(
        `${NAME_HEADER}: ${this.o.self}`,
        `${PROOF_HEADER}: ${this.signer.prove(challenge, this.o.self)}`,
      );
    });
    server.on('connection', (socket, req) => {
      const address = req.socket.remoteAddress ?? 'unknown';
      const conn = this.nextConn++;
      this.sockets.set(conn, socket);
      socket.on('error', (err) => {
        this.check.refused(address, err.message);
      });
      socket.on('message', (data, isBinary) => {
        this.receive(data, isBinary, socket, conn, address);
      });
      // A connection that never says anything authenticated is not kept open for free.
      const idle = setTimeout(() => {
        if (this.authenticated.has(socket)) return;
        this.check.refused(address, 'no authenticated frame in time');
        socket.close(1008, 'unauthenticated');
      }, this.o.authenticateWithinMs);
      idle.unref();
      socket.on('close', () => {
        clearTimeout(idle);
        this.sockets.delete(conn);
      });
    });
  }

  /** Sends a sealed reply back on the connection its request came in on (if still open). */
  reply(conn: number, frame: string): void {
    const socket = this.sockets.get(conn);
    if (socket && socket.readyState === socket.OPEN) socket.send(frame);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets.values()) socket.terminate();
    const { server } = this;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  private receive(data: RawData, isBinary: boolean, socket: WebSocket, conn: number, from: string) {
    this.meter?.begin();
    const passed = this.check.pass(data, isBinary, socket, from);
    if (!passed) return;
    this.authenticated.add(socket);
    this.meter?.is(passed.envelope.kind);
    this.events.frame(verified(passed.envelope, passed.text, conn));
  }
}

/**
 * What every frame from a peer must pass, on either kind of connection: a valid MAC over its JSON
 * (else the sender loses the connection), a fresh sequence number and timestamp (replay guard),
 * and a sender in the peer list where there is one. Refusals are logged once per peer and interval.
 */
export class FrameCheck {
  private readonly signer: FrameSigner;
  private readonly guard: ReplayGuard;
  private readonly rejections: RejectionLog;
  private readonly peers: readonly string[] | null;

  constructor(
    o: { self: string; secret: string; peers: readonly string[] | null },
    log: (message: string, detail: Record<string, unknown>) => void,
  ) {
    this.signer = new FrameSigner(o.secret);
    this.guard = new ReplayGuard(o.self);
    this.rejections = new RejectionLog(log, 60_000, Date.now);
    this.peers = o.peers;
  }

  /** The verified envelope and the frame's text, or undefined (refused, and logged). */
  pass(
    data: RawData,
    isBinary: boolean,
    socket: WebSocket,
    source: string,
  ): { envelope: Envelope; text: string } | undefined {
    const text = isBinary ? '' : textOf(data);
    const opened = this.signer.open(text);
    if ('refused' in opened) {
      this.rejections.refused(source, opened.refused);
      // Whoever sends unauthenticated frames does not get to keep the connection.
      socket.close(1008, 'unauthenticated');
      return undefined;
    }
    const envelope = opened.envelope;
    const replay = this.guard.check(envelope);
    if (replay) {
      this.rejections.refused(envelope.from, replay);
      return;
    }
    if (this.peers && !this.peers.includes(envelope.from)) {
      this.rejections.refused(envelope.from, 'not in the peer list');
      return;
    }
    return { envelope, text };
  }

  refused(source: string, reason: string): void {
    this.rejections.refused(source, reason);
  }
}

/** A text frame's content; ws hands it over as one Buffer, fragments, or an ArrayBuffer. */
export function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}
