/**
 * Preloaded into every replica by the benchmark (NODE_OPTIONS, see topology.ts); the app's code
 * is untouched. Two signals, both ignored by default, so a replica without this probe is not
 * harmed by them (SIGUSR2 and most others would stop the app: Nest's shutdown hooks take them):
 * - SIGWINCH: a full garbage collection, then process.memoryUsage() into <dir>/<replica>.json.
 *   Resident memory alone can't show what sessions cost: freed memory stays resident.
 * - SIGURG: starts a CPU profile; the next SIGURG writes it to <dir>/<replica>.cpuprofile
 *   (open it in Chrome DevTools, Performance tab).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

const dir = process.env.BENCH_PROBE_DIR;
const name = process.env.REPLICA_NAME ?? String(process.pid);

async function toggleCpuProfile(dir: string, state: { session?: Session }): Promise<void> {
  if (!state.session) {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    state.session = session;
    return;
  }
  const { profile } = await state.session.post('Profiler.stop');
  state.session.disconnect();
  state.session = undefined;
  // Written aside, then renamed: whoever waits for the file never reads half of it.
  const file = join(dir, `${name}.cpuprofile`);
  writeFileSync(`${file}.tmp`, JSON.stringify(profile));
  renameSync(`${file}.tmp`, file);
}

if (dir) {
  process.on('SIGWINCH', () => {
    (globalThis as { gc?: () => void }).gc?.();
    writeFileSync(
      join(dir, `${name}.json`),
      JSON.stringify({ at: Date.now(), ...process.memoryUsage() }),
    );
  });
  const state: { session?: Session } = {};
  process.on('SIGURG', () => void toggleCpuProfile(dir, state).catch(() => undefined));
}
