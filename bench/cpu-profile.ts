/**
 * `--cpu-profile`: a CPU profile of every replica during the last whoami round, written to
 * bench/results/<run>-cpu/<topology>-<replica>.cpuprofile (see replica-probe.ts). The profiler
 * costs a little CPU itself, so such a run never replaces bench/REPORT.md.
 */
import { access, copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Subject } from './subject.js';

const replicas = (s: Subject) =>
  s.topology.cluster
    .status()
    .flatMap((m) => (m.kind === 'replica' && m.pid ? [{ name: m.name, pid: m.pid }] : []));

const profileFile = (s: Subject, replica: string) =>
  join(s.topology.cluster.workDir, `${replica}.cpuprofile`);

export async function startCpuProfiles(s: Subject): Promise<void> {
  for (const m of replicas(s)) {
    await rm(profileFile(s, m.name), { force: true });
    process.kill(m.pid, 'SIGURG');
  }
}

/** Stops the profiles and copies them to `outDir`; waits at most 10 s for each. */
export async function collectCpuProfiles(s: Subject, outDir: string): Promise<string[]> {
  const members = replicas(s);
  for (const m of members) process.kill(m.pid, 'SIGURG');
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

/** The parts of a `.cpuprofile` (Chrome DevTools' format) the summary reads. */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where the sampled time went, by owner: an npm package, a Node module (`node:http`), a file of
 * ours (`app:session/…`), or V8's own entries ("(garbage collector)", "(native)": C++ below
 * JavaScript, such as a socket write). Idle time is left out, so the shares add up to the time
 * the thread ran — as V8 samples it: a thread waiting for a core is counted where it waited.
 */
export function summarizeProfile(profile: CpuProfile): Array<{ owner: string; share: number }> {
  const owners = new Map(profile.nodes.map((n) => [n.id, ownerOf(n.callFrame)]));
  const time = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const owner = owners.get(id);
    if (owner === undefined || owner === '(idle)') return;
    // timeDeltas[i] is the gap before sample i: a sample stands for the time until the next.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    time.set(owner, (time.get(owner) ?? 0) + dt);
    total += dt;
  });
  return [...time]
    .map(([owner, t]) => ({ owner, share: total ? t / total : 0 }))
    .sort((a, b) => b.share - a.share);
}

function ownerOf({ functionName, url }: { functionName: string; url: string }): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith('node:')) return `node:${url.slice(5).replace(/\/.*/s, '')}`;
  const ours = /\/dist\/(.+)$/.exec(url)?.[1];
  if (ours) {
    const [top, ...rest] = ours.split('/');
    // dist/tools/… is the runner's and the benchmark's code (peers, the replica probe).
    return top === 'tools'
      ? `tools:${rest.slice(0, 2).join('/')}`
      : `app:${[top, rest[0]].filter(Boolean).join('/')}`;
  }
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  return url;
}

/** One line per profile file: its largest owners, for the run's log. */
export async function profileSummaryLine(file: string, top = 8): Promise<string> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  return summarizeProfile(profile)
    .slice(0, top)
    .map((o) => `${o.owner} ${Math.round(o.share * 100)} %`)
    .join(', ');
}
