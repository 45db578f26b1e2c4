/** The machine and the versions a result was measured with, for the report. */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { cpus, totalmem, type as osType, release } from 'node:os';
import { promisify } from 'node:util';
import { nginxBinary } from '../cluster/services/nginx.js';
import type { Machine } from './results.js';

const run = promisify(execFile);

/** First line of a command's output (stdout or stderr: nginx -v writes to stderr), or "unknown". */
async function versionOf(command: string, args: string[], pattern: RegExp): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: 5000 });
    return pattern.exec(stdout + stderr)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function postgresVersion(): Promise<string> {
  // Debian keeps the server binaries off PATH (as cluster/postgres.ts finds them).
  const versions = (await readdir('/usr/lib/postgresql').catch(() => [] as string[]))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  const bin = versions[0] ? `/usr/lib/postgresql/${versions[0]}/bin/postgres` : 'postgres';
  return versionOf(bin, ['--version'], /(\d+\.\d+)/);
}

async function osName(): Promise<string> {
  const release = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]+)/m.exec(release)?.[1] ?? osType();
}

export async function describeMachine(): Promise<Machine> {
  const cores = cpus();
  return {
    cpus: cores.length,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${await osName()}, kernel ${release()}`,
    node: process.version,
    nginx: await versionOf(nginxBinary(), ['-v'], /nginx\/(\S+)/),
    redis: await versionOf('redis-server', ['--version'], /v=(\S+)/),
    postgres: await postgresVersion(),
  };
}
