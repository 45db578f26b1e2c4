/**
 * Latency on a namespace network's links: one `nfq-delay` (nfq-delay.c) per member that has a
 * delay, inside the member's namespace, holding what the member sends for the delay plus a
 * jitter. An iptables NFQUEUE rule with `--queue-bypass` hands it the packets, so a member
 * without one (or whose program has exited) sends at once.
 *
 * The program is compiled on first use (gcc and libnetfilter-queue, which scripts/setup installs)
 * into .cluster/bin/, and again when its source is newer than the binary.
 */
import { execFile } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../paths.js';
import { NetworkModeError } from './errors.js';
import { NamespaceProcess } from './ns-process.js';

const run = promisify(execFile);
const SOURCE = join(PROJECT_ROOT, 'cluster', 'network', 'nfq-delay.c');
const BINARY = join(PROJECT_ROOT, '.cluster', 'bin', 'nfq-delay');

export interface LinkDelay {
  /** Mean one-way delay of what the member sends, in ms. */
  ms: number;
  /**
   * Each packet's delay is drawn uniform in ms ± jitterMs (never below 0); packets keep their
   * order, so under load a packet may wait for the one before it (towards ms + jitterMs).
   */
  jitterMs: number;
}

/**
 * One data centre: 0.25 ms ± 0.05 each way, a round trip of about 0.5 ms ± 0.1 between two
 * members (loopback's is some 0.02 ms).
 */
export const LINK_DELAY_DEFAULT: LinkDelay = { ms: 0.25, jitterMs: 0.05 };

/** Ten seconds: more is not a network, and the C side's arithmetic stays far from overflow. */
const MAX_MS = 10_000;

let built: Promise<string> | undefined;

/** The compiled program, built now if it is missing or older than its source. */
function delayProgram(): Promise<string> {
  built ??= (async () => {
    const [source, binary] = await Promise.all([stat(SOURCE), stat(BINARY).catch(() => undefined)]);
    if (binary && binary.mtimeMs >= source.mtimeMs) return BINARY;
    await mkdir(join(PROJECT_ROOT, '.cluster', 'bin'), { recursive: true });
    // Built aside and renamed: two runners building at once never run a half-written binary.
    const building = `${BINARY}.${process.pid}`;
    try {
      await run('gcc', ['-O2', '-Wall', '-o', building, SOURCE, '-lnetfilter_queue']);
      await rename(building, BINARY);
    } catch (error) {
      const said = (error as { stderr?: string }).stderr?.trim() ?? String(error);
      throw new NetworkModeError(
        `building nfq-delay failed (it needs gcc and libnetfilter-queue-dev; scripts/setup installs them): ${said}`,
      );
    }
    return BINARY;
  })();
  built.catch(() => (built = undefined));
  return built;
}

function checkDelay(d: LinkDelay): void {
  const within = (n: number) => Number.isFinite(n) && n >= 0 && n <= MAX_MS;
  if (!(within(d.ms) && within(d.jitterMs)))
    throw new NetworkModeError(
      `a delay needs ms and jitterMs from 0 to ${MAX_MS}, not ${JSON.stringify(d)}`,
    );
}

/** A running nfq-delay in one namespace; its settings change through its stdin. */
export class DelayProcess {
  private constructor(private readonly program: NamespaceProcess) {}

  /** Starts it in `namespace` (whose NFQUEUE rule uses queue 0) and waits until it listens. */
  static async start(namespace: string, d: LinkDelay): Promise<DelayProcess> {
    checkDelay(d);
    const program = await delayProgram();
    const command = [program, '0', String(d.ms), String(d.jitterMs)];
    return new DelayProcess(await NamespaceProcess.start(namespace, command, 'nfq-delay'));
  }

  set(d: LinkDelay): void {
    checkDelay(d);
    this.program.tell(`${d.ms} ${d.jitterMs}`);
  }

  stop(): Promise<void> {
    return this.program.stop();
  }
}
