/**
 * A helper program the network runs inside a member's namespace (nfq-delay, ns-agent): started
 * with `ip netns exec`, ready once it prints "ready", told things on its stdin, and stopped by
 * closing that stdin (so a runner killed with SIGKILL leaves none behind); SIGKILL after a second.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { NetworkModeError } from './errors.js';

export class NamespaceProcess {
  private constructor(private readonly child: ChildProcess) {}

  static async start(namespace: string, command: readonly string[]): Promise<NamespaceProcess> {
    const what = `${command[1]?.replace(/.*\//, '') ?? command[0] ?? '?'} in ${namespace}`;
    const child = spawn('ip', ['netns', 'exec', namespace, ...command], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const [first] = (await Promise.race([
      once(child.stdout, 'data'),
      once(child, 'exit').then(() => {
        throw new NetworkModeError(`${what} exited before it was ready`);
      }),
    ])) as [Buffer];
    if (!first.toString().startsWith('ready'))
      throw new NetworkModeError(`${what} said ${first.toString()}`);
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
