import { openSync, readSync } from 'node:fs';

let schedstat: number | null | undefined;
const buffer = Buffer.alloc(96);

/**
 * CPU µs the calling thread has run, as the kernel counts it (/proc/thread-self/schedstat: its
 * first field, ns). Exact over any span the thread slept in (the count is brought up to date when
 * a thread stops running), not within one stretch of running: for the peer port's thread, which
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
