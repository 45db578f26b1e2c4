import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** From most to least favoured: what REPLICATION_THREAD_PRIORITY may ask for. */
export const THREAD_PRIORITIES = ['realtime', 'high', 'normal'] as const;
export type ThreadPriority = (typeof THREAD_PRIORITIES)[number];

/**
 * What a replica asks for unless told otherwise: `normal`, what a user gets anyway without root or
 * CAP_SYS_NICE (the Docker image runs as `node`). More is the operator's choice, and the
 * benchmark's report says which one its figures had.
 */
export const DEFAULT_THREAD_PRIORITY: ThreadPriority = 'normal';

/**
 * Raises the calling thread (only it: its own thread id) to `wanted`, or to the best step below
 * that the process may take; returns what it got and, if less, why.
 * - realtime: SCHED_FIFO at the lowest real-time priority, set by util-linux `chrt` (Node has no
 *   call for it). It runs the moment it wakes, before every ordinary thread on that core. Nice
 *   alone does not do that across processes: the kernel's autogroups (each replica is a session
 *   of its own) share a core between processes first and weigh nice only within one. The kernel
 *   caps real-time threads at 95 % of each core (sched_rt_runtime_us), so one that never slept
 *   would still not stop the machine; this one works microseconds per frame.
 * - high: nice -10, ahead of this process's other threads.
 */
export function raiseThreadPriority(wanted: ThreadPriority): {
  got: ThreadPriority;
  reason?: string;
} {
  const tid = readlinkSync('/proc/thread-self').split('/').pop() ?? '';
  const reasons: string[] = [];
  const attempts: Array<[ThreadPriority, () => void]> = [
    ['realtime', () => execFileSync('chrt', ['--fifo', '--pid', '1', tid], { stdio: 'pipe' })],
    [
      'high',
      () => {
        setPriority(Number(tid), -10);
      },
    ],
  ];
  for (const [step, raise] of attempts.slice(THREAD_PRIORITIES.indexOf(wanted))) {
    try {
      raise();
      return { got: step, ...(reasons.length ? { reason: reasons.join('; ') } : {}) };
    } catch (err) {
      reasons.push(`${step}: ${firstLine(err)}`);
    }
  }
  return { got: 'normal', ...(reasons.length ? { reason: reasons.join('; ') } : {}) };
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: Buffer; message?: string };
  const text = e.stderr?.toString().trim() || e.message || String(err);
  return text.split('\n', 1)[0] ?? text;
}
