/**
 * Where the native runner finds a program that a server description names: the Node it runs on
 * itself, nginx (NGINX_BIN), Debian's PostgreSQL binaries (off PATH), everything else on PATH.
 */
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export function nginxBinary(): string {
  return process.env.NGINX_BIN ?? '/usr/sbin/nginx';
}

const POSTGRES_TOOLS = new Set(['postgres', 'initdb', 'pg_isready', 'pg_ctl']);
let postgresBin: Promise<string | undefined> | undefined;

/** The binary for `program`, e.g. 'postgres' → /usr/lib/postgresql/15/bin/postgres. */
export async function nativeProgram(program: string): Promise<string> {
  if (program === 'node') return process.execPath; // replicas run on the runner's own Node
  if (program === 'nginx') return nginxBinary();
  if (POSTGRES_TOOLS.has(program)) {
    const bin = await (postgresBin ??= findPostgresBin());
    return bin ? join(bin, program) : program;
  }
  return program;
}

/**
 * Debian keeps server binaries in /usr/lib/postgresql/<major>/bin, off PATH; take the newest.
 * Elsewhere (other distros, Homebrew) they are on PATH.
 */
async function findPostgresBin(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  const versions = await readdir(root).catch(() => [] as string[]);
  const newestFirst = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const version of newestFirst) {
    const bin = join(root, version, 'bin');
    if (
      await access(join(bin, 'postgres')).then(
        () => true,
        () => false,
      )
    )
      return bin;
  }
  return undefined;
}
