import { afterAll, beforeAll } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster, type ClusterOptions } from '../../cluster/cluster.js';
import type { ProfileName } from '../../cluster/profiles.js';
import { HttpClient } from './http-client.js';

export interface TestCluster extends Cluster {
  /** A client with its own cookie jar; `subnet` N binds it to 127.0.N.1 (its own /24 for ip_hash). */
  client(subnet?: number): HttpClient;
  /** The same, over https through nginx, trusting the cluster's self-signed certificate. */
  httpsClient(subnet?: number): Promise<HttpClient>;
  /** A client that talks to one replica directly, bypassing nginx, carrying `from`'s cookies. */
  direct(replica: string, from: HttpClient): HttpClient;
  /** PIDs of the replicas now running (unchanged = no replica was restarted). */
  replicaPids(): Array<number | null>;
  /** Stops everything and removes the work dir; throws if any process it started is still alive. */
  teardown(): Promise<void>;
}

const address = (subnet?: number) => (subnet === undefined ? undefined : `127.0.${subnet}.1`);

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The real topology on free ports in a temp dir, through the runner's programmatic API. */
export async function startTestCluster(
  profile: ProfileName,
  options: Partial<Omit<ClusterOptions, 'profile' | 'workDir'>> = {},
): Promise<TestCluster> {
  const workDir = await mkdtemp(join(tmpdir(), `scaled-login-e2e-${profile}-`));
  const cluster = await startCluster({
    profile,
    workDir,
    fastPostgres: true,
    ...options,
    env: { LOG_LEVEL: 'warn', ARGON2_MEMORY_KIB: '1024', ...options.env },
  });
  const pids = new Set<number>();
  const remember = () => cluster.status().forEach((m) => m.pid && pids.add(m.pid));
  remember();
  return {
    ...cluster,
    async restart(member: string, env?: Record<string, string>) {
      await cluster.restart(member, env);
      remember();
    },
    async rollingRestart(env?: Record<string, string>) {
      await cluster.rollingRestart(env);
      remember();
    },
    replicaPids: () =>
      cluster
        .status()
        .filter((m) => m.kind === 'replica')
        .map((m) => m.pid),
    client: (subnet?: number) => new HttpClient(cluster.url, address(subnet)),
    httpsClient: async (subnet?: number) =>
      new HttpClient(cluster.httpsUrl, address(subnet), await readFile(cluster.certFile, 'utf8')),
    direct(replica: string, from: HttpClient) {
      const c = new HttpClient(cluster.replicaUrl(replica));
      for (const [k, v] of from.cookies) c.cookies.set(k, v);
      return c;
    },
    async teardown() {
      remember();
      await cluster.stop();
      await rm(workDir, { recursive: true, force: true });
      const left = [...pids].filter(alive);
      if (left.length) throw new Error(`processes left running after stop: ${left.join(', ')}`);
    },
  };
}

/**
 * A cluster for the enclosing `describe`: started before its tests, torn down after them. The
 * returned object stands for the cluster once it has started (it forwards to it).
 */
export function useCluster(
  profile: ProfileName,
  options: Partial<Omit<ClusterOptions, 'profile' | 'workDir'>> = {},
): TestCluster {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    cluster = await startTestCluster(profile, options);
  }, 60_000);
  afterAll(async () => {
    await cluster?.teardown();
  }, 60_000);
  return new Proxy({} as TestCluster, {
    get: (_, key) => {
      if (!cluster) throw new Error('the cluster is used before beforeAll started it');
      return Reflect.get(cluster, key) as unknown;
    },
  });
}

/** Runs `request` repeatedly with `concurrency` workers until `durationMs` has passed. */
export async function stream<T>(
  durationMs: number,
  concurrency: number,
  request: () => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  const deadline = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) results.push(await request());
    }),
  );
  return results;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it is true or `timeoutMs` passes; returns the last result. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}
