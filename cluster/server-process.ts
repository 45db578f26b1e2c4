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
