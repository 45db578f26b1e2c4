#!/usr/bin/env node
// Builds dist/ when any source is newer than the last build, so `npm run cluster` and
// `npm run bench` never run stale code. `--stamp` only records that a build just finished.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const sources = [
  'src',
  'cluster',
  'bench',
  'docs/tooling',
  'tsconfig.json',
  'tsconfig.build.json',
  'tsconfig.tools.json',
  'package-lock.json',
];

function newest(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => newest(join(path, f))));
}

if (process.argv.includes('--stamp')) {
  writeFileSync(stamp, new Date().toISOString() + '\n');
  process.exit(0);
}
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (Math.max(...sources.map((s) => newest(join(root, s)))) > built) {
  console.log(
    built ? 'sources changed since the last build: building …' : 'no build yet: building …',
  );
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
