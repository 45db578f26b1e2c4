import type { Envelope } from './envelope.js';

/**
 * CPU µs the calling thread has run (user + system), as the kernel counts it for that thread
 * alone. The kernel brings a thread's count up to date when the thread stops running (and at
 * each tick), not when it is read: exact over any span the thread slept in, not within one
 * stretch of running. For the peer channel's thread, which sleeps between frames, read as each
 * frame arrives. (The main thread's short sections use the process's clock, which is current
 * when read: see traffic.ts.)
 */
export function threadCpuMicros(): number {
  const used = process.threadCpuUsage();
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
