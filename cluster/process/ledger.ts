import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pollUntil } from './poll.js';
import { descendantsOf, killAll, processEntry, signal, stillRunning } from './process-tree.js';

/** One process the ledger holds: enough to find it again, and to stop it as its owner would. */
export interface LedgerEntry {
  pid: number;
  /** Tells the process from a later one that reused its PID (see process-tree.ts). */
  startTime: string;
  name: string;
  /** The signal that shuts it down cleanly (Redis flushes its append-only file on SIGTERM). */
  stopSignal: NodeJS.Signals;
  /** When it started (ms since the epoch): leftovers are stopped newest first, like a clean stop. */
  startedAt: number;
}

const STOP_TIMEOUT_MS = 10_000;

/**
 * The processes a cluster runs, one small file each in a folder of its work dir, written when a
 * process starts and removed when it exits. A runner that ends normally leaves the folder empty;
 * one killed with SIGKILL (no exit hook runs) leaves its servers running, detached, holding their
 * ports and data dirs. The next start in the same work dir finds them here and stops them
 * (`sweep`), so nothing of the old run keeps a port or a lock the new run needs.
 */
export class ProcessLedger {
  constructor(readonly dir: string) {}

  async record(pid: number, what: { name: string; stopSignal: NodeJS.Signals }): Promise<void> {
    const entry = await processEntry(pid);
    if (!entry) return; // already gone: nothing to find later
    await mkdir(this.dir, { recursive: true });
    const record: LedgerEntry = { pid, startTime: entry.startTime, startedAt: Date.now(), ...what };
    await writeFile(this.file(pid), JSON.stringify(record) + '\n');
  }

  async forget(pid: number): Promise<void> {
    await rm(this.file(pid), { force: true });
  }

  /** The recorded processes that still run (the same process, not a later one with its PID). */
  async leftovers(): Promise<LedgerEntry[]> {
    const entries = await this.entries();
    const running = await stillRunning(
      entries.map((e) => ({ pid: e.pid, ppid: 0, state: 'R', startTime: e.startTime })),
    );
    const live = new Set(running.map((r) => r.pid));
    for (const e of entries) if (!live.has(e.pid)) await this.forget(e.pid);
    return entries.filter((e) => live.has(e.pid)).sort((a, b) => b.startedAt - a.startedAt);
  }

  /**
   * Stops every recorded process that still runs, newest first, each with its own stop signal
   * and then SIGKILL if it does not exit within `timeoutMs`; what it forked goes too. Resolves
   * what it stopped.
   */
  async sweep(timeoutMs = STOP_TIMEOUT_MS): Promise<LedgerEntry[]> {
    const left = await this.leftovers();
    for (const entry of left) {
      const own = [{ pid: entry.pid, ppid: 0, state: 'R', startTime: entry.startTime }];
      const forked = await descendantsOf(entry.pid);
      // Still the same process (the ones before may have taken seconds): else its PID is another's.
      if ((await stillRunning(own)).length === 0) {
        await this.forget(entry.pid);
        continue;
      }
      signal(entry.pid, entry.stopSignal);
      const gone = await pollUntil(async () => (await stillRunning(own)).length === 0, {
        timeoutMs,
      });
      if (!gone.ok) await killAll(own);
      await killAll(forked);
      await this.forget(entry.pid);
    }
    return left;
  }

  private file(pid: number): string {
    return join(this.dir, `${pid}.json`);
  }

  private async entries(): Promise<LedgerEntry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries = await Promise.all(
      names
        .filter((n) => /^\d+\.json$/.test(n))
        .map(async (n) => {
          try {
            return JSON.parse(await readFile(join(this.dir, n), 'utf8')) as LedgerEntry;
          } catch {
            return undefined; // removed while we looked, or cut short by a SIGKILL while written
          }
        }),
    );
    return entries.filter((e): e is LedgerEntry => e !== undefined);
  }
}
