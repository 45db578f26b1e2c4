/**
 * `--cpu-profile`: a CPU profile of every replica during the last whoami round, written to
 * bench/results/<run>-cpu/<topology>-<replica>.cpuprofile (see replica-probe.ts). The profiler
 * costs a little CPU itself, so such a run never replaces bench/REPORT.md.
 */
import { access, copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Subject } from './subject.js';

const replicas = (s: Subject) =>
  s.topology.cluster.status().filter((m) => m.kind === 'replica' && m.pid);

const profileFile = (s: Subject, replica: string) =>
  join(s.topology.cluster.workDir, `${replica}.cpuprofile`);

export async function startCpuProfiles(s: Subject): Promise<void> {
  for (const m of replicas(s)) {
    await rm(profileFile(s, m.name), { force: true });
    process.kill(m.pid!, 'SIGURG');
  }
}

/** Stops the profiles and copies them to `outDir`; waits at most 10 s for each. */
export async function collectCpuProfiles(s: Subject, outDir: string): Promise<string[]> {
  const members = replicas(s);
  for (const m of members) process.kill(m.pid!, 'SIGURG');
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  const deadline = Date.now() + 10_000;
  for (const m of members) {
    const file = profileFile(s, m.name);
    // The probe renames the finished file into place, so once it exists it is complete.
    while (
      !(await access(file).then(
        () => true,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error(`${m.name} wrote no CPU profile`);
      await sleep(100);
    }
    const target = join(outDir, `${s.name}-${m.name}.cpuprofile`);
    await copyFile(file, target);
    written.push(target);
  }
  return written;
}
