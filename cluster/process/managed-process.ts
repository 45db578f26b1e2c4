import { spawn, type ChildProcess } from 'node:child_process';
import { access, appendFile, constants, open, writeFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readLogTail } from './log-tail.js';
import { errorMessage, pollUntil, waitAtMost } from './poll.js';
import type { ProcessLedger } from './ledger.js';
import { descendantsOf, killAll, signal } from './process-tree.js';
import { lookupSystemUser } from './system-user.js';

export interface ManagedProcessOptions {
  /** Shown in errors and in the log file's start lines. */
  name: string;
  command: string;
  args?: readonly string[];
  /** Merged over process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  uid?: number;
  gid?: number;
  /**
   * System user to run as (needs root). Resolved to uid/gid and spawned directly rather than
   * through `runuser`, which stays in between as the parent: then the PID would be runuser's.
   */
  runAs?: string;
  /**
   * Niceness to run at, 0–19 (never below the runner's own): the process's own (`nice`, which
   * execs the command, so the PID stays its) and its autogroup's. The kernel shares the cores
   * between autogroups first, and every process started here leads its own session, so its
   * own niceness alone would only weigh it against its own children (see niceAutogroup).
   */
  nice?: number;
  /** What stop() sends unless told otherwise: the signal that means "shut down cleanly". */
  stopSignal?: NodeJS.Signals;
  /**
   * Where its PID is kept while it runs (its cluster's work dir), so that a later start finds it
   * if our own process dies without stopping it (SIGKILL).
   */
  ledger?: ProcessLedger;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopOptions {
  signal?: NodeJS.Signals;
  /** How long to wait after `signal` before SIGKILL. */
  timeoutMs?: number;
}

export interface ReadyOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What "ready" means, for the error message, e.g. "answers PING". */
  what: string;
}

const LOG_TAIL_LINES = 20;

/** Processes not yet exited, killed if this Node process exits without stopping them. */
const running = new Set<ManagedProcess>();
let exitHookInstalled = false;

/**
 * A child process we own by PID: its output goes to a log file, it can be stopped gracefully
 * (signal, wait, then SIGKILL) or killed at once, and stopping twice or stopping the dead is fine.
 * Nothing it forked outlives it (see process-tree.ts). It gets its own process group, so Ctrl-C
 * in a terminal reaches only our runner, which then stops things in its own order.
 */
export class ManagedProcess {
  /** Resolves when the process has exited and been reaped: its PID is gone by then. */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;

  private constructor(
    private readonly options: ManagedProcessOptions,
    readonly pid: number,
    exit: Promise<ExitStatus>,
  ) {
    this.exited = exit.then((status) => {
      this.exitStatus = status;
      running.delete(this);
      return status;
    });
    running.add(this);
    installExitHook();
  }

  /** Spawns the process; resolves once it runs, rejects if it could not be started at all. */
  static async start(options: ManagedProcessOptions): Promise<ManagedProcess> {
    if (
      options.nice !== undefined &&
      !(Number.isInteger(options.nice) && options.nice >= 0 && options.nice <= 19)
    )
      throw new Error(
        `${options.name}: niceness must be a whole number from 0 to 19, not ${options.nice}`,
      );
    const ids = options.runAs ? await lookupSystemUser(options.runAs) : options;
    const raise = options.nice === undefined ? 0 : options.nice - getPriority();
    const [command, args] =
      raise > 0
        ? ['nice', ['-n', String(raise), options.command, ...(options.args ?? [])]]
        : [options.command, options.args ?? []];
    const commandLine = [command, ...args].join(' ');
    const log = await open(options.logFile, 'a');
    try {
      await log.write(`--- ${new Date().toISOString()} starting ${options.name}: ${commandLine}\n`);
      if (raise > 0) await mustBeInstalled(options.command, options.cwd);
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', log.fd, log.fd],
        detached: true, // own process group: see the class comment
        uid: ids.uid,
        gid: ids.gid,
      });
      const { ledger } = options;
      // Listen before anything can be missed. Its ledger entry is gone before the exit counts.
      const exit = exitOf(child).then(async (status) => {
        if (child.pid !== undefined) await ledger?.forget(child.pid).catch(() => undefined);
        return status;
      });
      const pid = await spawned(child);
      try {
        await ledger?.record(pid, {
          name: options.name,
          stopSignal: options.stopSignal ?? 'SIGTERM',
        });
      } catch (error) {
        // Not on the ledger, so nothing would find it again: it must not outlive this.
        signal(pid, 'SIGKILL');
        throw error;
      }
      if (options.nice !== undefined) {
        await niceAutogroup(pid, options.nice).catch((error: unknown) => {
          signal(pid, 'SIGKILL');
          throw error;
        });
      }
      return new ManagedProcess(options, pid, exit);
    } catch (error) {
      const hint =
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? ' (not installed? scripts/setup installs the system packages)'
          : '';
      throw new Error(
        `${options.name}: could not start ${commandLine}: ${errorMessage(error)}${hint}`,
        { cause: error },
      );
    } finally {
      await log.close(); // the child has its own copy of the descriptor
    }
  }

  get name(): string {
    return this.options.name;
  }

  get logFile(): string {
    return this.options.logFile;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Sends `sig` and returns at once (SIGHUP: re-read your config). False when it is not running. */
  send(sig: NodeJS.Signals): boolean {
    if (this.exitStatus) return false;
    signal(this.pid, sig);
    return true;
  }

  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILLs. Never throws for a dead process. */
  async stop({
    signal: stopSignal = this.options.stopSignal ?? 'SIGTERM',
    timeoutMs = 10_000,
  }: StopOptions = {}): Promise<ExitStatus> {
    if (this.exitStatus) return this.exitStatus;
    const forked = await descendantsOf(this.pid); // after the exit they can't be found any more
    signal(this.pid, stopSignal);
    const status = await waitAtMost(this.exited, timeoutMs);
    if (!status) {
      await this.note(`did not exit within ${timeoutMs} ms of ${stopSignal}; sending SIGKILL`);
      return this.kill();
    }
    await killAll(forked); // a clean exit normally leaves nothing; if it did, it goes now
    return status;
  }

  /**
   * SIGKILL to the process and everything it forked, now: fault injection, or stop's last
   * resort. Children that die after their parent are reparented to PID 1; where PID 1 reaps
   * late or never (some containers), they linger as zombies, harmless but visible in ps.
   */
  async kill(): Promise<ExitStatus> {
    if (this.exitStatus) return this.exitStatus;
    const forked = await descendantsOf(this.pid);
    signal(this.pid, 'SIGKILL');
    await killAll(forked);
    return this.exited;
  }

  /**
   * Polls `probe` until it resolves true. Rejects with the log's tail when the process exits
   * first or the deadline passes; in the second case the process is stopped first, because a
   * server that never became ready is of no use and must not outlive the failed start.
   */
  async waitUntilReady(probe: () => Promise<boolean>, options: ReadyOptions): Promise<void> {
    const abort = new AbortController();
    const outcome = await Promise.race([
      pollUntil(probe, { ...options, signal: abort.signal }),
      this.exited.then((status) => ({ exited: status })),
    ]);
    abort.abort();
    if ('exited' in outcome) {
      throw await this.failure(`exited during start-up (${describeExit(outcome.exited)})`);
    }
    if (!outcome.ok) {
      const last = outcome.lastError
        ? `; last probe error: ${errorMessage(outcome.lastError)}`
        : '';
      const error = await this.failure(
        `was not ready (${options.what}) within ${options.timeoutMs} ms${last}`,
      );
      await this.stop({ timeoutMs: 5_000 });
      throw error;
    }
  }

  /** An Error naming this process, with the last lines of its log. */
  async failure(what: string): Promise<Error> {
    const tail = await readLogTail(this.logFile, LOG_TAIL_LINES);
    const indented = tail.replace(/^/gm, '  ');
    return new Error(
      `${this.name} (pid ${this.pid}) ${what}.\nLast lines of ${this.logFile}:\n${indented}`,
    );
  }

  private async note(text: string): Promise<void> {
    await appendFile(this.logFile, `--- ${new Date().toISOString()} ${text}\n`).catch(() => {});
  }
}

/**
 * Runs a command that must finish (initdb, migrations) and succeed within `timeoutMs`.
 * Rejects with the tail of its log otherwise.
 */
export async function runToCompletion(
  options: ManagedProcessOptions,
  timeoutMs = 60_000,
): Promise<void> {
  const command = await ManagedProcess.start(options);
  const status = await waitAtMost(command.exited, timeoutMs);
  if (!status) {
    const error = await command.failure(`did not finish within ${timeoutMs} ms`);
    await command.kill();
    throw error;
  }
  if (status.code !== 0) throw await command.failure(`failed (${describeExit(status)})`);
}

export function describeExit({ code, signal }: ExitStatus): string {
  return signal ? `killed by ${signal}` : `exit code ${code ?? 'none'}`;
}

function exitOf(child: ChildProcess): Promise<ExitStatus> {
  // Without an 'error' listener, a late error event (e.g. a failed kill) would crash the parent.
  child.on('error', () => undefined);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    }),
  );
}

/** The PID once the OS has started the process; rejects with spawn's error (ENOENT, EPERM, ...). */
function spawned(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      child.off('error', reject);
      if (child.pid === undefined) reject(new Error('spawned, yet without a PID'));
      else resolve(child.pid);
    });
  });
}

/** Last line of defence: if our Node process exits with servers still up, don't orphan them. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) signal(child.pid, 'SIGKILL');
  });
}

/**
 * Sets the niceness of the autogroup `pid` leads. With autogroups on (the kernel's default for
 * desktops and most distributions), the cores are shared between sessions by their autogroup's
 * niceness before any process's own counts. Raising it needs no privilege, but without
 * CAP_SYS_ADMIN the kernel takes one change per 100 ms and answers EAGAIN in between (servers
 * start in parallel), so it is tried again. No file: no autogroups, the process's own niceness is
 * all there is.
 */
async function niceAutogroup(pid: number, nice: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await writeFile(`/proc/${pid}/autogroup`, String(nice));
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EAGAIN' || attempt === 50) {
        throw new Error(
          `could not set the niceness of ${pid}'s autogroup: ${errorMessage(error)}`,
          {
            cause: error,
          },
        );
      }
      await sleep(100 + Math.random() * 50);
    }
  }
}

/** Rejects as spawn would for a missing program: once wrapped in `nice`, spawn itself succeeds. */
async function mustBeInstalled(command: string, cwd = process.cwd()): Promise<void> {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : join(cwd, command)]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, command));
  for (const file of candidates) {
    if (
      await access(file, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return;
  }
  throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' });
}
