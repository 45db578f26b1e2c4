import { openSync, readSync } from 'node:fs';
import type { Envelope } from './envelope.js';

let schedstat: number | null | undefined;
const buffer = Buffer.alloc(96);

/**
 * CPU µs the calling thread has run, as the kernel counts it (/proc/thread-self/schedstat: its
 * first field, ns). Exact over any span the thread slept in (the count is brought up to date when
 * a thread stops running), not within one stretch of running: for the peer channel's thread, which
 * sleeps between frames, read as each frame arrives. Node 20 has no per-thread CPU clock
 * (process.threadCpuUsage came in 23.9); where procfs lacks the file this falls back to the whole
 * process's CPU time.
 */
export function threadCpuMicros(): number {
  if (schedstat === undefined) {
    try {
      schedstat = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      schedstat = null;
    }
  }
  if (schedstat !== null) {
    const n = readSync(schedstat, buffer, 0, buffer.length, 0);
    const ns = Number(buffer.toString('latin1', 0, n).split(' ', 1)[0]);
    if (Number.isFinite(ns)) return ns / 1000;
  }
  const used = process.cpuUsage();
  return used.user + used.system;
}

type Kind = Envelope['kind'];
/** CPU µs by frame kind, as counted since the last report. */
export type WorkByKind = Partial<Record<Kind, number>>;

/**
 * The CPU a thread of its own spends on each kind of frame, from threadCpuMicros(): read where
 * each piece of work starts — a frame arrives, a frame is to be sent — which is where the thread
 * has just woken and the kernel's count is current. A piece counts to the kind it turned out to be
 * (known once a frame is checked); what a refused frame cost counts to nothing.
 */
export class WorkMeter {
  private at = threadCpuMicros();
  private kind: Kind | undefined;
  private owed: WorkByKind = {};

  /** A piece of work starts: what ran since the last start counts to that one's kind. */
  begin(kind?: Kind): void {
    const now = threadCpuMicros();
    if (this.kind) this.owed[this.kind] = (this.owed[this.kind] ?? 0) + now - this.at;
    this.at = now;
    this.kind = kind;
  }

  /** The current piece of work turned out to be a frame of this kind. */
  is(kind: Kind): void {
    this.kind = kind;
  }

  /** What was counted since the last call (undefined: nothing). */
  take(): WorkByKind | undefined {
    const owed = this.owed;
    if (Object.keys(owed).length === 0) return undefined;
    this.owed = {};
    return owed;
  }
}
