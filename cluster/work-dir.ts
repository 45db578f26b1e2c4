/**
 * A cluster's work dir and what it keeps from one run to the next: the data of Postgres and of
 * the stores, the session secret, the certificate, and the ports its servers had. A cluster is
 * started again on it after a clean stop, a failover, or a runner that was killed: the plugins
 * read what the last run left (who was primary, which ports a store's nodes knew each other by)
 * and start from there. `--fresh` discards it on purpose.
 */
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessLedger, type LedgerEntry } from './process/ledger.js';
import { freePort, isPortFree, reclaimPort } from './process/ports.js';
import { processEntry, stillRunning, type ProcessEntry } from './process/process-tree.js';

/** Written into every work dir; a later version that changes the layout reads it first. */
const MARKER = 'state.json';
const STATE_FORMAT = 1;
/**
 * What runners before the marker left in every work dir they used: the log of Postgres' first
 * initialisation (its plugin starts first) and of the migrations.
 */
const OLD_SIGNS = [join('postgres', 'initdb.log'), join('logs', 'migrate.log')];
/** The runner using the work dir now (pid and start time): one at a time. */
const OWNER = 'runner.json';

export interface WorkDir {
  readonly dir: string;
  /** Every process the run starts is recorded here while it runs (see process/ledger.ts). */
  readonly ledger: ProcessLedger;
  readonly ports: PortBook;
  /** Processes a killed runner had left in this work dir, stopped before anything started. */
  readonly swept: LedgerEntry[];
  /** Lets the next runner in: call once everything of this run has stopped. */
  release(): Promise<void>;
}

/** "nginx (pid 12), postgres (pid 9)": what a sweep stopped, for a progress line. */
export const describeProcesses = (entries: readonly LedgerEntry[]): string =>
  entries.map((p) => `${p.name} (pid ${p.pid})`).join(', ');

/** The ledger of a work dir, also for a runner that only stops what another one left. */
export const ledgerOf = (dir: string) => new ProcessLedger(join(dir, 'processes'));

/**
 * The runner (another process) that is using `dir` now, starting or running; undefined when
 * none is: the last one stopped, or was killed and left at most servers behind (the ledger's).
 */
export async function liveRunner(dir: string): Promise<{ pid: number } | undefined> {
  let owner: ProcessEntry;
  try {
    owner = JSON.parse(await readFile(join(dir, OWNER), 'utf8')) as ProcessEntry;
  } catch {
    return undefined;
  }
  if (owner.pid === process.pid) return undefined;
  const [live] = await stillRunning([owner]);
  return live && { pid: live.pid };
}

/**
 * Whether `dir` was left by a runner that died without releasing it: its owner file is there,
 * and that process is gone. A dir being opened right now (no owner file yet) is not.
 */
export async function abandoned(dir: string): Promise<boolean> {
  const owned = await exists(join(dir, OWNER));
  return owned && (await liveRunner(dir)) === undefined;
}

/**
 * Opens `dir` for a run: refuses a folder that is not a cluster's and one another runner is
 * using, stops what a killed runner left running there, discards the state if `fresh`, and
 * marks the dir as ours.
 */
export async function openWorkDir(
  dir: string,
  options: { fresh?: boolean } = {},
): Promise<WorkDir> {
  await mkdir(dir, { recursive: true });
  await mustBeOurs(dir);
  const other = await liveRunner(dir);
  if (other)
    throw new Error(
      `another runner (pid ${other.pid}) is using ${dir}: stop it first, or give this cluster another --port or --work-dir`,
    );
  const ledger = ledgerOf(dir);
  const swept = await ledger.sweep();
  if (options.fresh) await discardState(dir);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), JSON.stringify({ format: STATE_FORMAT }) + '\n');
  const self = await processEntry(process.pid);
  await writeFile(join(dir, OWNER), JSON.stringify(self) + '\n');
  return {
    dir,
    ledger,
    ports: await PortBook.open(join(dir, 'ports.json')),
    swept,
    release: () => rm(join(dir, OWNER), { force: true }),
  };
}

/**
 * Refuses a folder that holds files but is not a cluster's work dir: `--work-dir` names a folder
 * the user chose, and a typo must neither fill their project with logs and data nor, with
 * --fresh, empty it.
 */
async function mustBeOurs(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  if (names.length === 0 || names.includes(MARKER)) return;
  for (const sign of OLD_SIGNS) if (await exists(join(dir, sign))) return;
  throw new Error(
    `${dir} holds files but is not a cluster's work dir (no ${MARKER}): pass a new or empty folder as --work-dir`,
  );
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Removes everything in `dir`, after checking that it is a cluster's work dir. */
export async function discardState(dir: string): Promise<void> {
  await mustBeOurs(dir);
  const names = await readdir(dir).catch(() => [] as string[]);
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

  /**
   * Its port of the last run if that is free now (and at most `max`), else a free one. With
   * `plus`, the port `plus` above it must be free too (a Redis Cluster node's bus port).
   */
  async take(name: string, o: { max?: number; plus?: number } = {}): Promise<number> {
    const { max = 65535, plus } = o;
    const last = this.last[name];
    const owner = `${this.file}#${name}`;
    const usable = async (p: number) => plus === undefined || (await isPortFree(p + plus));
    let port =
      last !== undefined && last <= max && (await reclaimPort(last, owner)) && (await usable(last))
        ? last
        : undefined;
    for (let attempt = 0; port === undefined && attempt < 20; attempt++) {
      const candidate = await freePort('127.0.0.1', max, owner);
      if (await usable(candidate)) port = candidate;
    }
    if (port === undefined) throw new Error(`no free port for ${name} up to ${max}`);
    this.now[name] = port;
    const text = JSON.stringify(this.now, null, 2) + '\n';
    // One after the other, each with the whole book; a failed write fails its own take only.
    const write = this.writing.catch(() => undefined).then(() => writeFile(this.file, text));
    this.writing = write;
    await write;
    return port;
  }
}
