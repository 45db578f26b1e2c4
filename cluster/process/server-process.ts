import type { ManagedProcess } from './managed-process.js';

/** A server the cluster owns by PID (Postgres, Redis): what the runner and the tests rely on. */
export interface ServerProcess {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Holds its data and its log. */
  readonly dir: string;
  /** PID of the server currently running (changes on restart). */
  readonly pid: number;
  readonly running: boolean;
  /** A clean shutdown. */
  stop(): Promise<void>;
  /** Like a crash. */
  kill(): Promise<void>;
  /** Stops if running, then starts again on the same port and dir. */
  restart(): Promise<void>;
}

/**
 * What Postgres and Redis handles share: the address and data dir they were started with, the
 * process currently serving them, and restart = stop, then launch again on the same port and dir.
 */
export abstract class OwnedServer<
  C extends { host: string; port: number; dir: string },
> implements ServerProcess {
  abstract readonly url: string;

  constructor(
    protected readonly config: C,
    protected server: ManagedProcess,
    private readonly launch: (config: C) => Promise<ManagedProcess>,
  ) {}

  get host(): string {
    return this.config.host;
  }
  get port(): number {
    return this.config.port;
  }
  get dir(): string {
    return this.config.dir;
  }
  get pid(): number {
    return this.server.pid;
  }
  get running(): boolean {
    return this.server.running;
  }

  abstract stop(): Promise<void>;
  abstract kill(): Promise<void>;

  async restart(): Promise<void> {
    await this.stop();
    this.server = await this.launch(this.config);
  }
}
