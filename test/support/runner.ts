/**
 * `npm run cluster` as a user runs it: the runner's own process (node dist/tools/cluster/cli.js),
 * started with command-line flags, stopped with a signal (Ctrl-C is SIGINT; a crash or `kill -9`
 * is SIGKILL), driven from "another terminal" over its control socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { sendControl, type ControlCommand, type ControlReply } from '../../cluster/control.js';
import type { MemberStatus } from '../../cluster/cluster.js';
import { PROJECT_ROOT } from '../../cluster/paths.js';
import { defined } from '../../src/common/defined.js';
import {
  descendantsOf,
  processEntry,
  type ProcessEntry,
} from '../../cluster/process/process-tree.js';
import { tcpConnect } from '../../cluster/process/ports.js';
import { address } from './cluster.js';
import { HttpClient } from './http-client.js';

export const CLI = join(PROJECT_ROOT, 'dist', 'tools', 'cluster', 'cli.js');
const READY_TIMEOUT_MS = 90_000;

/** What a run had running: every process (members and what they forked) and every member port. */
export interface RunFootprint {
  processes: ProcessEntry[];
  ports: number[];
}

export class Runner {
  /** The replicas' names, and their ports, as the runner's status said once it was ready. */
  readonly replicas: string[];
  private readonly ports: Map<string, number>;

  private constructor(
    private readonly child: ChildProcess,
    /** nginx's URL, from the runner's "ready <url>" line. */
    readonly url: string,
    readonly workDir: string,
    private readonly out: { text: string },
    private readonly exit: Promise<number | null>,
    replicas: MemberStatus[],
  ) {
    this.replicas = replicas.map((r) => r.name);
    this.ports = new Map(replicas.map((r) => [r.name, r.port]));
  }

  /**
   * Starts the runner with `args` and resolves once it says "ready"; rejects with its output when
   * it exits first or is not ready in time. The replicas hash with little memory (fast logins).
   */
  static async start(args: string[], workDir: string): Promise<Runner> {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ARGON2_MEMORY_KIB: '1024' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { text: '' };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out.text += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out.text += chunk));
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        resolve(code);
      }),
    );
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGINT');
        reject(new Error(`not ready within ${READY_TIMEOUT_MS} ms:\n${out.text}`));
      }, READY_TIMEOUT_MS);
      const look = () => {
        const ready = /^ready (\S+)$/m.exec(out.text)?.[1];
        if (ready !== undefined) {
          clearTimeout(timer);
          resolve(ready);
        }
      };
      child.stdout.on('data', look);
      void exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the runner exited (${String(code)}) before it was ready:\n${out.text}`));
      });
    });
    const status = await sendControl(join(workDir, 'control.sock'), { cmd: 'status' });
    if (!status.ok) throw new Error(status.error);
    const replicas = status.status.filter((m) => m.kind === 'replica');
    return new Runner(child, url, workDir, out, exit, replicas);
  }

  get pid(): number {
    return defined(this.child.pid, "the runner's pid");
  }

  /** Everything it printed so far. */
  get output(): string {
    return this.out.text;
  }

  control(command: ControlCommand): Promise<ControlReply> {
    return sendControl(join(this.workDir, 'control.sock'), command);
  }

  async status(): Promise<MemberStatus[]> {
    const reply = await this.control({ cmd: 'status' });
    if (!reply.ok) throw new Error(reply.error);
    return reply.status;
  }

  /** Every process of the run (each member and all it forked) and every member's port. */
  async footprint(): Promise<RunFootprint> {
    const members = (await this.status()).filter(
      (m): m is MemberStatus & { pid: number } => m.pid !== null,
    );
    const processes: ProcessEntry[] = [];
    for (const { pid } of members) {
      const own = await processEntry(pid);
      if (own) processes.push(own);
      processes.push(...(await descendantsOf(pid)));
    }
    return { processes, ports: members.map((m) => m.port) };
  }

  /** Sends `signal` to the runner and resolves its exit code (null when a signal ended it). */
  async stop(signal: NodeJS.Signals): Promise<number | null> {
    this.child.kill(signal);
    return this.exit;
  }

  /** A client of the cluster through nginx; `subnet` N binds it to 127.0.N.1. */
  client(subnet?: number): HttpClient {
    return new HttpClient(this.url, address(subnet));
  }

  /** A client of one replica directly, carrying `from`'s cookies (as TestCluster.direct). */
  direct(replica: string, from?: HttpClient, subnet?: number): HttpClient {
    const port = this.ports.get(replica);
    if (port === undefined) throw new Error(`no replica "${replica}" in this run`);
    const c = new HttpClient(`http://127.0.0.1:${port}`, address(subnet));
    for (const [k, v] of from?.cookies ?? []) c.cookies.set(k, v);
    return c;
  }
}

/** The ports of `ports` that something accepts connections on. */
export async function listening(ports: readonly number[]): Promise<number[]> {
  const open = await Promise.all(
    ports.map((p) =>
      tcpConnect('127.0.0.1', p, 1000).then(
        () => true,
        () => false,
      ),
    ),
  );
  return ports.filter((_, i) => open[i]);
}

/**
 * The ports of `ports` that a process of the run in `workDir` listens on. Every member writes
 * its output to a log file under its work dir (and what it forks inherits the descriptor), so a
 * listener with a descriptor open there belongs to that run. A port another run took after this
 * one let it go (rows run side by side, and a freed port goes back to the kernel's pool) is not
 * this run's. Linux only: it reads /proc/net/tcp and each process's descriptors.
 */
export async function heldBy(workDir: string, ports: readonly number[]): Promise<number[]> {
  const wanted = new Set(await listening(ports));
  if (wanted.size === 0) return [];
  const dir = await realpath(workDir); // descriptors name resolved paths
  const inodes = await listeningSockets(wanted);
  const held = new Set<number>();
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    const targets = await Promise.all(
      fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')),
    );
    const ports = targets.flatMap((t) => {
      const port = inodes.get(/^socket:\[(\d+)\]$/.exec(t)?.[1] ?? '');
      return port === undefined ? [] : [port];
    });
    if (ports.length > 0 && targets.some((t) => t.startsWith(dir + '/')))
      for (const port of ports) held.add(port);
  }
  return [...held].sort((a, b) => a - b);
}

/** Socket inode → local port, for the listening TCP sockets (v4 and v6) on `ports`. */
async function listeningSockets(ports: ReadonlySet<number>): Promise<Map<string, number>> {
  const inodes = new Map<string, number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // sl, local address (hex ip:port), remote address, state, ..., inode (the 10th field)
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      if (local === undefined || inode === undefined || state !== '0A') continue; // 0A: LISTEN
      const port = parseInt(local.split(':')[1] ?? '', 16);
      if (ports.has(port)) inodes.set(inode, port);
    }
  }
  return inodes;
}
