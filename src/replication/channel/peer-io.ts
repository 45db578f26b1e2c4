import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import type { Envelope } from './envelope.js';
import { InboundPort, type InboundFrame, type InboundOptions } from './inbound-port.js';
import { OutboundLinks } from './outbound-links.js';
import type { MemberAddress } from './membership.js';
import type { ThreadPriority } from './thread-priority.js';

/** What the channel's sockets need: the peer port's settings (members come by setMembers). */
export interface PeerIoOptions extends InboundOptions {
  /** What the thread asks for (a thread of its own only). */
  threadPriority: ThreadPriority;
}

/** What the channel's thread tells the main thread. */
export type FromIo =
  | { t: 'frame'; frame: InboundFrame }
  | { t: 'open'; peer: string; address: string }
  | { t: 'closed'; peer: string }
  | { t: 'own'; address: string }
  | { t: 'log'; message: string; detail: Record<string, unknown> }
  | { t: 'listening' }
  | { t: 'failed'; error: string };

/** A sealed frame for one peer (`kind` only for the thread's CPU count). */
export interface Outgoing {
  to: string;
  kind: Envelope['kind'];
  frame: string;
}

/** What the main thread asks of the channel's thread. */
export type ToIo =
  | { t: 'send'; frames: Outgoing[] }
  | { t: 'reply'; conn: number; frame: string }
  | { t: 'drop'; peer: string }
  | { t: 'members'; members: MemberAddress[] }
  | { t: 'close' };

/** What the channel's sockets report, on the thread that handles the frames. */
export interface PeerIoEvents {
  frame(f: InboundFrame): void;
  open(peer: string, address: string): void;
  closed(peer: string): void;
  ownAddress(address: string): void;
  log(message: string, detail: Record<string, unknown>): void;
}

/** The peer channel's sockets: the peer port, and this replica's connection to each peer. */
export interface PeerIo {
  start(): Promise<void>;
  /** Hands over, synchronously, everything that has arrived and not been handed over yet. */
  drain(): void;
  /** Sealed frames, written together: one hand-over however many peers. */
  send(frames: Outgoing[]): void;
  /** A sealed reply, on the peer port's connection its request came in on. */
  reply(conn: number, frame: string): void;
  /** Drops the connection to a peer (it reconnects). */
  drop(peer: string): void;
  /** The member addresses to connect to, from now on (see membership.ts). */
  setMembers(members: MemberAddress[]): void;
  close(): Promise<void>;
}

/**
 * The peer channel's sockets on a thread of their own, both ways. A replica's main thread is
 * often busy: under a load that keeps every core busy, one turn of its event loop serves a hundred
 * requests, and it waits for a core between them.
 * - In: a frame read on the main thread waits for the whole turn (tens of ms) before it is
 *   applied. Here the thread reads, checks and queues each frame as it arrives, and the main
 *   thread takes what is queued synchronously (receiveMessageOnPort) before every access to the
 *   replicated sessions, and on its own when idle: a frame waits for the request being served,
 *   not for all of them.
 * - Out: a write is handed over as soon as it is sealed, in one message for all peers, and the
 *   thread writes it to every peer at once. Written from the main thread, the first write woke
 *   that peer's channel thread, which took this core, and the frame for the next peer waited for
 *   the main thread's next turn on a core (p99 ~6 ms).
 * The thread runs at a higher priority (see thread-priority.ts): a frame in either direction is
 * written or read as soon as it is there, not when the scheduler next gets to this replica.
 */
export class ThreadIo implements PeerIo {
  private port: MessagePort | undefined;
  private worker: Worker | undefined;
  private draining = false;
  private closing = false;

  constructor(
    private readonly options: PeerIoOptions,
    private readonly events: PeerIoEvents,
    /** The thread's script (a test gives a stand-in: Jest's TypeScript cannot run in a worker). */
    private readonly script = new URL('./peer-io.worker.js', import.meta.url),
  ) {}

  async start(): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(this.script, {
      workerData: { options: this.options, port: port2 },
      transferList: [port2],
    });
    const worker = this.worker;
    await new Promise<void>((resolve, reject) => {
      port1.on('message', (m: FromIo) => {
        if (m.t === 'listening') resolve();
        else if (m.t === 'failed') reject(new Error(`peer port: ${m.error}`));
        else
          this.oneAtATime(() => {
            this.handle(m);
          });
      });
      worker.once('error', reject);
    });
    // The channel's thread is part of the replica: if it dies, so does the replica (and its
    // supervisor restarts it), rather than live on deaf to its peers.
    // Node types a worker's error as unknown (a thread can throw anything).
    worker.on('error', (err) => {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    });
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`exited with ${code}`));
    });
  }

  drain(): void {
    const port = this.port;
    if (!port) return;
    if (this.draining) return;
    this.oneAtATime(() => {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port))
        this.handle(m.message as FromIo);
    });
  }

  send(frames: Outgoing[]): void {
    if (frames.length > 0) this.post({ t: 'send', frames });
  }

  reply(conn: number, frame: string): void {
    this.post({ t: 'reply', conn, frame });
  }

  drop(peer: string): void {
    this.post({ t: 'drop', peer });
  }

  setMembers(members: MemberAddress[]): void {
    this.post({ t: 'members', members });
  }

  async close(): Promise<void> {
    if (!this.worker || !this.port) return;
    this.closing = true;
    const exited = new Promise((resolve) => this.worker?.once('exit', resolve));
    this.post({ t: 'close' });
    // A thread that does not wind down within a second is stopped.
    const stop = setTimeout(() => void this.worker?.terminate(), 1000);
    await exited;
    clearTimeout(stop);
    this.port.close();
  }

  private post(m: ToIo): void {
    this.port?.postMessage(m);
  }

  /**
   * One event at a time: a handler that reads the replicated state (and so drains) must not
   * have later frames applied in the middle of its own.
   */
  private oneAtATime(work: () => void): void {
    const outer = !this.draining;
    this.draining = true;
    try {
      work();
    } finally {
      if (outer) this.draining = false;
    }
  }

  private handle(m: FromIo): void {
    if (m.t === 'frame') this.events.frame(m.frame);
    else if (m.t === 'open') this.events.open(m.peer, m.address);
    else if (m.t === 'closed') this.events.closed(m.peer);
    else if (m.t === 'own') this.events.ownAddress(m.address);
    else if (m.t === 'log') this.events.log(m.message, m.detail);
  }

  private fail(err: Error): void {
    setImmediate(() => {
      throw new Error(`the peer channel's thread failed: ${err.message}`);
    });
  }
}

/** The sockets on the main thread: for tests, which run TypeScript that a worker cannot load. */
export class InlineIo implements PeerIo {
  private readonly inbound: InboundPort;
  private readonly links: OutboundLinks;

  constructor(options: PeerIoOptions, events: PeerIoEvents) {
    this.inbound = new InboundPort(options, events);
    this.links = new OutboundLinks(options, events);
  }

  async start(): Promise<void> {
    await this.inbound.start();
  }

  drain(): void {}

  send(frames: Outgoing[]): void {
    for (const f of frames) this.links.send(f.to, f.frame);
  }

  reply(conn: number, frame: string): void {
    this.inbound.reply(conn, frame);
  }

  drop(peer: string): void {
    this.links.drop(peer);
  }

  setMembers(members: MemberAddress[]): void {
    this.links.setMembers(members);
  }

  async close(): Promise<void> {
    this.links.close();
    await this.inbound.close();
  }
}
