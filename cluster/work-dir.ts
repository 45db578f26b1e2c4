/**
 * A cluster's work dir and what it keeps from one run to the next: the data of Postgres and of
 * the stores, the session secret, the certificate, and the ports its servers had. A cluster is
 * started again on it after a clean stop, a failover, or a runner that was killed: the plugins
 * read what the last run left (who was primary, which ports a store's nodes knew each other by)
 * and start from there. `--fresh` discards it on purpose.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessLedger, type LedgerEntry } from './process/ledger.js';
import { freePort, reclaimPort } from './process/ports.js';

/** Written into every work dir; a later version that changes the layout reads it first. */
const MARKER = 'state.json';
const STATE_FORMAT = 1;
/** What older versions (before the marker) left in every work dir they used. */
const OLD_SIGNS = ['session-secret', 'logs'];

export interface WorkDir {
  readonly dir: string;
  /** Every process the run starts is recorded here while it runs (see process/ledger.ts). */
  readonly ledger: ProcessLedger;
  readonly ports: PortBook;
  /** Processes a killed runner had left in this work dir, stopped before anything started. */
  readonly swept: LedgerEntry[];
}

/** The ledger of a work dir, also for a runner that only stops what another one left. */
export const ledgerOf = (dir: string) => new ProcessLedger(join(dir, 'processes'));

/**
 * Opens `dir` for a run: stops what a killed runner left running there, discards the state if
 * `fresh`, and marks the dir as ours.
 */
export async function openWorkDir(
  dir: string,
  options: { fresh?: boolean } = {},
): Promise<WorkDir> {
  await mkdir(dir, { recursive: true });
  const ledger = ledgerOf(dir);
  const swept = await ledger.sweep();
  if (options.fresh) await discardState(dir);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), JSON.stringify({ format: STATE_FORMAT }) + '\n');
  return { dir, ledger, ports: await PortBook.open(join(dir, 'ports.json')), swept };
}

/**
 * Removes everything in `dir`, after checking that it is a cluster's work dir: `--work-dir`
 * names a folder the user chose, and a typo must not empty their home.
 */
export async function discardState(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  if (names.length === 0) return;
  const ours = [MARKER, ...OLD_SIGNS].some((n) => names.includes(n));
  if (!ours)
    throw new Error(
      `${dir} holds files that are not a cluster's (no ${MARKER}): not discarding it; pass another --work-dir`,
    );
  for (const name of names) await rm(join(dir, name), { recursive: true, force: true });
}

/**
 * The ports a work dir's servers listen on, kept from one run to the next: a server gets its
 * port of the last run again while it is free, so addresses a user noted (redis-cli -p …) and
 * those the store's own state files name stay true. `previous` says what the last run had, for
 * plugins that must map what a state file says (a primary's port) to a member.
 */
export class PortBook {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly last: Readonly<Record<string, number>>,
    private readonly now: Record<string, number>,
  ) {}

  static async open(file: string): Promise<PortBook> {
    let last: Record<string, number> = {};
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object')
        last = Object.fromEntries(
          Object.entries(parsed).filter(
            (e): e is [string, number] => Number.isInteger(e[1]) && e[1] > 0 && e[1] < 65536,
          ),
        );
    } catch {
      // none yet, or unreadable: every server gets a new port
    }
    return new PortBook(file, last, { ...last });
  }

  /** The port `name` had in the last run. */
  previous(name: string): number | undefined {
    return this.last[name];
  }

  /** Its port of the last run if that is free now (and at most `max`), else a free one. */
  async take(name: string, max = 65535): Promise<number> {
    const last = this.last[name];
    const owner = `${this.file}#${name}`;
    const port =
      last !== undefined && last <= max && (await reclaimPort(last, owner))
        ? last
        : await freePort('127.0.0.1', max, owner);
    this.now[name] = port;
    const text = JSON.stringify(this.now, null, 2) + '\n';
    this.writing = this.writing.then(() => writeFile(this.file, text));
    await this.writing;
    return port;
  }
}
