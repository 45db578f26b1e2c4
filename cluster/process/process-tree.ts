import { readdir, readFile } from 'node:fs/promises';
import { defined } from '../../src/common/defined.js';
import { pollUntil } from './poll.js';

/**
 * What a process forked, found through Linux /proc (elsewhere: nothing). Process groups don't
 * do: Postgres backends call setsid(), so they leave the postmaster's group. Parent links do,
 * but only while the parent lives, so callers take a snapshot before signalling it.
 */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  state: string;
  /** Clock ticks after boot: tells a process from a later one that reused its PID. */
  startTime: string;
}

/** All processes forked by `pid`, its children's children included. */
export async function descendantsOf(pid: number): Promise<ProcessEntry[]> {
  const table = await readProcessTable();
  const found: ProcessEntry[] = [];
  let parents = new Set([pid]);
  while (parents.size > 0) {
    const children = table.filter((entry) => parents.has(entry.ppid));
    found.push(...children);
    parents = new Set(children.map((entry) => entry.pid));
  }
  return found;
}

/**
 * The snapshot's processes that still run. Zombies don't count: they hold no port, file or
 * shared memory, and where PID 1 reaps orphans late or never (some containers) they linger.
 */
export async function stillRunning(snapshot: readonly ProcessEntry[]): Promise<ProcessEntry[]> {
  if (snapshot.length === 0) return [];
  const now = new Map((await readProcessTable()).map((entry) => [entry.pid, entry]));
  return snapshot.filter((old) => {
    const current = now.get(old.pid);
    return current?.startTime === old.startTime && !isZombie(current);
  });
}

/** SIGKILLs whatever of the snapshot still runs and waits (bounded) until it is gone. */
export async function killAll(snapshot: readonly ProcessEntry[], timeoutMs = 5_000): Promise<void> {
  for (const entry of await stillRunning(snapshot)) signal(entry.pid, 'SIGKILL');
  await pollUntil(async () => (await stillRunning(snapshot)).length === 0, { timeoutMs });
}

/** Sends a signal; a process that is already gone is fine. */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

const isZombie = (entry: ProcessEntry): boolean => entry.state === 'Z' || entry.state === 'X';

async function readProcessTable(): Promise<ProcessEntry[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  const pids = names.filter((name) => /^\d+$/.test(name)).map(Number);
  const entries = await Promise.all(pids.map(processEntry));
  return entries.filter((entry): entry is ProcessEntry => entry !== undefined);
}

/** The process with this PID now, or undefined when there is none. */
export async function processEntry(pid: number): Promise<ProcessEntry | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ... starttime(22nd)": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      ppid: Number(fields[1]),
      state: defined(fields[0], `${pid}'s state`),
      startTime: defined(fields[19], `${pid}'s start time`),
    };
  } catch {
    return undefined; // exited while we looked
  }
}
