#!/usr/bin/env node
// Runs the README's quick start as written, as a newcomer would: each line of the first ```bash
// block under "## Quick start", in order, in bash. A line that starts the cluster runs until it
// prints `ready <url>`; then the URL must answer through nginx, and Ctrl-C (SIGINT to the whole
// process group, as a terminal sends it) must stop everything it started. CI runs this
// (.ci/run), so the README cannot drift from what works.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const READY_TIMEOUT_MS = 10 * 60_000; // the first start may build dist/
const STOP_TIMEOUT_MS = 60_000;

/** The lines of the quick start's first bash block. */
export function quickStartLines(readme) {
  const lines = readme.split('\n');
  const heading = lines.findIndex((l) => /^## Quick start\b/.test(l));
  if (heading < 0) throw new Error('README.md has no "## Quick start" section');
  const open = lines.findIndex((l, i) => i > heading && /^```(bash|sh)\s*$/.test(l));
  const next = lines.findIndex((l, i) => i > heading && /^## /.test(l));
  if (open < 0 || (next >= 0 && open > next)) {
    throw new Error('the Quick start section has no ```bash block');
  }
  const close = lines.findIndex((l, i) => i > open && /^```\s*$/.test(l));
  return lines.slice(open + 1, close).filter((l) => l.trim() && !l.trim().startsWith('#'));
}

const say = (s) => console.log(`quick-start: ${s}`);

function runToEnd(line) {
  const started = Date.now();
  const r = spawnSync('bash', ['-c', line], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`"${line}" exited with ${r.status ?? r.signal}`);
  say(`"${line}" done in ${Math.round((Date.now() - started) / 1000)} s`);
}

function exited(child) {
  return new Promise((resolve) => {
    const how = () => child.signalCode ?? child.exitCode;
    if (child.exitCode !== null || child.signalCode !== null) resolve(how());
    else child.once('exit', () => resolve(how()));
  });
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function runUntilReady(line) {
  const child = spawn('bash', ['-c', line], {
    cwd: root,
    detached: true, // its own process group, like a terminal's foreground job
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.on('data', (chunk) => process.stdout.write(chunk));
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "ready" line within ${READY_TIMEOUT_MS / 1000} s`)),
      READY_TIMEOUT_MS,
    );
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const m = /^ready (https?:\/\/\S+)/m.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`"${line}" exited with ${code} before it was ready`));
    });
  });
  try {
    const res = await fetch(new URL('/api/whoami', url), { signal: AbortSignal.timeout(10_000) });
    const body = await res.json();
    if (res.status !== 200 || !body.servedBy) {
      throw new Error(`${url}api/whoami answered ${res.status} ${JSON.stringify(body)}`);
    }
    say(`${url} answers through nginx (served by ${body.servedBy}); pressing Ctrl-C`);
  } finally {
    process.kill(-child.pid, 'SIGINT');
  }
  let stopTimer;
  const code = await Promise.race([
    exited(child),
    new Promise((resolve) => (stopTimer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS))),
  ]);
  clearTimeout(stopTimer); // else this script outlives the check by the whole timeout
  if (code === 'timeout') {
    process.kill(-child.pid, 'SIGKILL');
    throw new Error(`still running ${STOP_TIMEOUT_MS / 1000} s after Ctrl-C`);
  }
  // The runner stops its servers (each in a process group of its own) before it exits: its
  // ledger of running processes must be empty, and nothing may answer on its port.
  const port = /--port[= ](\d+)/.exec(line)?.[1];
  const ledger = join(root, port && port !== '8080' ? `.cluster-${port}` : '.cluster', 'processes');
  const left = existsSync(ledger) ? readdirSync(ledger) : [];
  if (left.length) throw new Error(`left running after Ctrl-C: ${left.join(', ')} (see ${ledger})`);
  const answered = await fetch(url, { signal: AbortSignal.timeout(5000) }).then(
    () => true,
    () => false,
  );
  if (answered || groupAlive(child.pid)) throw new Error(`${url} still answers after Ctrl-C`);
  say(`stopped by Ctrl-C (${code}), nothing left running`);
}

async function main() {
  const lines = quickStartLines(readFileSync(join(root, 'README.md'), 'utf8'));
  say(`${lines.length} line(s) from README.md`);
  for (const line of lines) {
    say(`$ ${line}`);
    if (/npm run cluster\b/.test(line)) await runUntilReady(line);
    else runToEnd(line);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`quick-start: FAILED: ${err.message}`);
    process.exitCode = 1;
  });
}
