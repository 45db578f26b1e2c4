import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import {
  InboundPort,
  type InboundEvents,
  type InboundFrame,
  type InboundOptions,
} from './inbound-port.js';

/** What the peer port's thread sends the main thread. */
export type FromInbox =
  | { t: 'frame'; frame: InboundFrame }
  | { t: 'log'; message: string; detail: Record<string, unknown> }
  | { t: 'listening' }
  | { t: 'failed'; error: string };

/** What the main thread sends the peer port's thread. */
export type ToInbox = { t: 'reply'; conn: number; frame: string } | { t: 'close' };

/** Where verified frames from peers wait for the replica's main thread. */
export interface Inbox {
  start(): Promise<void>;
  /** Hands over, synchronously, every frame that has arrived and not been handed over yet. */
  drain(): void;
  reply(conn: number, frame: string): void;
  close(): Promise<void>;
}

/**
 * The peer port on a thread of its own. A replica's main thread is often busy: under a load that
 * keeps every core busy, one turn of its event loop serves a hundred requests, and a frame read
 * there waits for the whole turn (tens of ms) before it is applied. Here a thread of its own reads,
 * checks and queues every frame as it arrives, and the main thread takes what is queued
 * synchronously (receiveMessageOnPort) before every access to the replicated sessions, and on its
 * own when idle: a frame waits for the request being served, not for all of them.
 */
export class ThreadInbox implements Inbox {
  private port: MessagePort | undefined;
  private worker: Worker | undefined;
  private draining = false;
  private closing = false;

  constructor(
    private readonly options: InboundOptions,
    private readonly events: InboundEvents,
    /** The thread's script (a test gives a stand-in: Jest's TypeScript cannot run in a worker). */
    private readonly script = new URL('./inbox.worker.js', import.meta.url),
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
      port1.on('message', (m: FromInbox) => {
        if (m.t === 'listening') resolve();
        else if (m.t === 'failed') reject(new Error(`peer port: ${m.error}`));
        else this.oneAtATime(() => this.handle(m));
      });
      worker.once('error', reject);
    });
    // The port's thread is part of the replica: if it dies, so does the replica (and its
    // supervisor restarts it), rather than live on deaf to its peers.
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.closing || this.fail(new Error(`exited with ${code}`)));
  }

  drain(): void {
    const port = this.port;
    if (!port) return;
    if (this.draining) return;
    this.oneAtATime(() => {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port))
        this.handle(m.message as FromInbox);
    });
  }

  reply(conn: number, frame: string): void {
    this.port?.postMessage({ t: 'reply', conn, frame } satisfies ToInbox);
  }

  async close(): Promise<void> {
    if (!this.worker || !this.port) return;
    this.closing = true;
    const exited = new Promise((resolve) => this.worker?.once('exit', resolve));
    this.port.postMessage({ t: 'close' } satisfies ToInbox);
    // A port thread that does not wind down within a second is stopped.
    const stop = setTimeout(() => void this.worker?.terminate(), 1000);
    await exited;
    clearTimeout(stop);
    this.port.close();
  }

  /**
   * One frame at a time: a handler that reads the replicated state (and so drains) must not
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

  private handle(m: FromInbox): void {
    if (m.t === 'frame') this.events.frame(m.frame);
    else if (m.t === 'log') this.events.log(m.message, m.detail);
  }

  private fail(err: Error): void {
    setImmediate(() => {
      throw new Error(`the peer port's thread failed: ${err.message}`);
    });
  }
}

/** The peer port on the main thread: for tests, which run TypeScript that a worker cannot load. */
export class InlineInbox implements Inbox {
  private readonly inbound: InboundPort;

  constructor(options: InboundOptions, events: InboundEvents) {
    this.inbound = new InboundPort(options, events);
  }

  start(): Promise<void> {
    return this.inbound.start();
  }

  drain(): void {}

  reply(conn: number, frame: string): void {
    this.inbound.reply(conn, frame);
  }

  close(): Promise<void> {
    return this.inbound.close();
  }
}
