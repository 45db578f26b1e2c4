import { z } from 'zod';
import type { DataSource } from 'typeorm';
import type { BackendDeps, SessionBackend } from './backend.js';
import { redisSessionBackend, throttled, type ConnectOptions, type Redis } from './redis-store.js';

/**
 * What the two replicated Redis backends (redis-ha: Sentinel, redis-cluster: Cluster) share: a
 * list of servers to start from, durable logins, and a connect that keeps trying (their clients,
 * unlike one server's, give up on a first connect that fails).
 */

export interface RedisNode {
  host: string;
  port: number;
}

/** "host:port,host:port" → nodes; at least one. */
export const nodeList = (what: string) =>
  z
    .string()
    .transform((v) => v.split(',').map((s) => s.trim()))
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, `host:port of ${what}, comma-separated`)
            .transform((hostPort): RedisNode => {
              const at = hostPort.lastIndexOf(':');
              return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) };
            }),
        )
        .min(1),
    );

/**
 * Durable logins: off by default. On, a login (and a logout) answers only once one replica has
 * the write (WAIT 1 <REDIS_DURABLE_TIMEOUT_MS>), or 503 when none did in time.
 */
export const durableConfig = {
  REDIS_DURABLE_LOGINS: z.stringbool().default(false),
  REDIS_DURABLE_TIMEOUT_MS: z.coerce.number().int().positive().default(250),
};

/**
 * The store over a client made by `connect` (Sentinel's or Cluster's), and with durable logins a
 * second one for the writes that wait; `wait` sends WAIT (`command`) on the connection of
 * `client` that wrote `key` and resolves how many replicas acknowledged.
 */
export function replicatedBackend<C extends Redis>(
  deps: BackendDeps<z.infer<z.ZodObject<typeof durableConfig>>>,
  database: DataSource,
  connect: () => { client: C; stop: () => void },
  wait: (client: C, key: string, command: string[]) => Promise<number>,
): SessionBackend {
  const main = connect();
  const durable = deps.config.REDIS_DURABLE_LOGINS ? connect() : undefined;
  const command = ['WAIT', '1', String(deps.config.REDIS_DURABLE_TIMEOUT_MS)];
  const backend = redisSessionBackend(main.client, {
    ...deps,
    database,
    durable: durable && {
      redis: durable.client,
      durability: { replicas: 1, wait: (key) => wait(durable.client, key, command) },
    },
  });
  return stoppingFirst(backend, [main.stop, ...(durable ? [durable.stop] : [])]);
}

/**
 * Connects `client` in the background and retries every second until it is connected: a replica
 * may start before its store and must recover. Resolves a function that stops the retries.
 */
export function keepConnecting(
  client: { connect(): Promise<unknown> },
  label: string,
  o: ConnectOptions,
): () => void {
  const log = throttled(o.onError, `${label} connect failed, retrying every second`);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = () => {
    client.connect().catch((err: unknown) => {
      log(err);
      if (!stopped) timer = setTimeout(attempt, 1000).unref();
    });
  };
  attempt();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** A backend whose clients keep connecting in the background: closing it stops that first. */
function stoppingFirst(backend: SessionBackend, stops: Array<() => void>): SessionBackend {
  return {
    ...backend,
    close: async () => {
      for (const stop of stops) stop();
      await backend.close();
    },
  };
}
