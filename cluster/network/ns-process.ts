/**
 * A helper program the network runs inside a member's namespace (nfq-delay, ns-agent): started
 * with `ip netns exec`, ready once it prints "ready", told things on its stdin, and stopped by
 * closing that stdin (so a runner killed with SIGKILL leaves none behind); SIGKILL after a second.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { NetworkModeError } from './errors.js';

const READY_TIMEOUT_MS = 10_000;

export class NamespaceProcess {
  private constructor(private readonly child: ChildProcess) {}

  /** Starts `command` (program and arguments) in `namespace`; `what` names it in errors. */
  static async start(
    namespace: string,
    command: readonly string[],
    what: string,
  ): Promise<NamespaceProcess> {
    const child = spawn('ip', ['netns', 'exec', namespace, ...command], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdin.on('error', () => undefined); // it exited: what it was told no longer matters
    const failed = (reason: string) => {
      child.kill('SIGKILL');
      return new NetworkModeError(`${what} in ${namespace}: ${reason}`);
    };
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      once(child.stdout, 'data').then(([chunk]) => String(chunk)),
      once(child, 'error').then(([err]) => {
        throw failed(String(err));
      }),
      once(child, 'exit').then(() => {
        throw failed('exited before it was ready');
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(failed(`not ready within ${READY_TIMEOUT_MS / 1000} s`));
        }, READY_TIMEOUT_MS);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
    if (!first.startsWith('ready')) throw failed(`said ${first}`);
    return new NamespaceProcess(child);
  }

  tell(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(timer);
  }
}
