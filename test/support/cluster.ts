import { afterAll, beforeAll } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../../cluster/cluster.js';
import type { ClusterOptions } from '../../cluster/options.js';
import type { ProfileName } from '../../cluster/profiles.js';
import { HttpClient } from './http-client.js';
import { isLoggedIn } from './steps.js';

export interface TestCluster extends Cluster {
  /** A client with its own cookie jar; `subnet` N binds it to its own /24 (127.0.N.1 for N < 256). */
  client(subnet?: number): HttpClient;
  /** The same, over https through nginx, trusting the cluster's self-signed certificate. */
  httpsClient(subnet?: number): Promise<HttpClient>;
  /**
   * A client that talks to one replica directly, bypassing nginx, carrying `from`'s cookies;
   * `subnet` N binds it to 127.0.N.1.
   */
  direct(replica: string, from?: HttpClient, subnet?: number): HttpClient;
  /** PIDs of the replicas now running (unchanged = no replica was restarted). */
  replicaPids(): Array<number | null>;
  /**
   * Stops every member, then starts the cluster again on the state it left in its work dir (new
   * replica ports, the same users and whatever sessions that state kept).
   */
  restartCluster(): Promise<void>;
  /** Stops everything and removes the work dir; throws if any process it started is still alive. */
  teardown(): Promise<void>;
}

/** Client N's own /24 on loopback: 127.0.N.1 for N < 256, then 127.1.0.1, ... */
export const address = (n?: number) => (n === undefined ? undefined : `127.${n >> 8}.${n & 255}.1`);

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
  const start = () =>
    startCluster({
      profile,
      workDir,
      fastPostgres: true,
      ...options,
      env: { LOG_LEVEL: 'warn', ARGON2_MEMORY_KIB: '1024', ...options.env },
    });
  /** The cluster now: restartCluster() replaces it with the one started on the same work dir. */
  let cluster = await start();
  const pids = new Set<number>();
  const remember = () => {
    cluster.status().forEach((m) => m.pid && pids.add(m.pid));
  };
  remember();
  const own: Partial<TestCluster> = {
    async restart(member: string, env?: Record<string, string>) {
      await cluster.restart(member, env);
      remember();
    },
    async rollingRestart(env?: Record<string, string>) {
      await cluster.rollingRestart(env);
      remember();
    },
    async scale(count: number) {
      const said = await cluster.scale(count);
      remember();
      return said;
    },
    async scaleStore(count: number) {
      const said = await cluster.scaleStore(count);
      remember();
      return said;
    },
    async restartCluster() {
      remember();
      await cluster.stop();
      cluster = await start();
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
    direct(replica: string, from?: HttpClient, subnet?: number) {
      const c = new HttpClient(cluster.replicaUrl(replica), address(subnet));
      for (const [k, v] of from?.cookies ?? []) c.cookies.set(k, v);
      return c;
    },
    async rejoin(replica: string) {
      await cluster.rejoin(replica);
      remember();
    },
    async teardown() {
      remember();
      await cluster.stop();
      await rm(workDir, { recursive: true, force: true });
      const left = [...pids].filter(alive);
      if (left.length) throw new Error(`processes left running after stop: ${left.join(', ')}`);
    },
  };
  // Everything else is the current cluster's own.
  return new Proxy(own as TestCluster, {
    get: (target, key) =>
      Object.hasOwn(target, key)
        ? (Reflect.get(target, key) as unknown)
        : (Reflect.get(cluster, key) as unknown),
  });
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

/** Whether each replica, asked directly, recognises `client`'s session. */
export async function knownOn(
  cluster: Pick<TestCluster, 'replicas' | 'direct'>,
  client: HttpClient,
): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const r of cluster.replicas) out[r] = await isLoggedIn(cluster.direct(r, client));
  return out;
}
