import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  MaxCommandRedirectionsError,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  createClient,
} from 'redis';
import type { DataSource } from 'typeorm';
import type { AttemptCounter, SessionLifetime } from '../session.types.js';
import type { Change } from '../session-merge.js';
import type { SessionBackend } from './backend.js';
import { Deadline } from './deadline.js';
import { SessionIndex } from './session-index.js';
import { IndexedKeyValueStore, IndexedSessionRegistry } from './store-base.js';

/**
 * Sessions in Redis, for every backend that keeps them there: the store, the per-user registry
 * (its index in Postgres) and the shared login-attempt counter. Each backend record brings its own
 * client (one server, Sentinel, Cluster); what is stored and how is the same.
 */

/** Sessions are keyed by their public id, so a Redis dump holds no usable session id. */
const sessionKeyOf = (publicId: string) => `sess:${publicId}`;
/** Every session key: what looks into Redis from outside (the benchmark's observer) scan for. */
export const SESSION_KEY_PATTERN = sessionKeyOf('*');
const attemptsKey = (key: string) => `login-attempts:${key}`;

/**
 * A client for one Redis server at `url`, connecting in the background: a replica may start
 * before Redis and must recover when it comes.
 */
export function connectRedis(url: string, o: ConnectOptions) {
  const client = createClient({ url, ...nodeClientOptions(o) });
  client.on('error', throttled(o.onError, 'redis connection error'));
  client.connect().catch((err: unknown) => {
    o.onError('redis connect failed', err);
  });
  return client;
}

export interface ConnectOptions {
  timeoutMs: number;
  onError: (message: string, err: unknown) => void;
}

/** How the app talks to each Redis server, whichever client (one server, Sentinel, Cluster) holds it. */
export const nodeClientOptions = (o: { timeoutMs: number }) => ({
  // Without this, node-redis queues commands while Redis is down and requests hang until it
  // returns. With it they fail at once and the request gets a 503.
  disableOfflineQueue: true,
  socket: {
    connectTimeout: o.timeoutMs,
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
  },
});

/** A down Redis emits an error per reconnect attempt; one line every 5 s is enough. */
export function throttled(onError: ConnectOptions['onError'], message: string) {
  let lastLogged = 0;
  return (err: unknown) => {
    if (Date.now() - lastLogged > 5000) {
      lastLogged = Date.now();
      onError(message, err);
    }
  };
}

/**
 * What the store, the registry and the counter send, and nothing else: one server's client,
 * Sentinel's (`createSentinel`) and Cluster's (`createCluster`) all have these. Each command names
 * one key (or none), so under Redis Cluster every one goes to the one node that owns its slot: no
 * CROSSSLOT error is possible (a multi-key MGET or DEL would need all its keys in one slot).
 */
export interface Redis {
  get(key: string): Promise<string | null>;
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number } },
  ): Promise<unknown>;
  del(key: string): Promise<number>;
  eval(script: string, options: { keys: [string]; arguments?: string[] }): Promise<unknown>;
  ping(): Promise<unknown>;
  readonly isOpen: boolean;
  close(): Promise<unknown>;
  destroy(): unknown;
}

/**
 * Durable logins: after a session is written (or removed), wait until `replicas` replicas have
 * it. `wait` sends WAIT on the connection that wrote `key` and resolves how many acknowledged.
 */
export interface Durability {
  replicas: number;
  wait: (key: string) => Promise<number>;
}

/** A write a replica did not acknowledge in time: the client gets a 503, not a login to lose. */
export class NotReplicatedError extends Error {
  constructor(replicas: number) {
    super(`the session store did not copy the write to ${replicas} replica(s) in time`);
  }
}

/** node-redis errors that mean "Redis is not reachable right now" (subclasses included). */
const REDIS_DOWN = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  ReconnectStrategyError,
  DisconnectsClientError,
  // Redis Cluster: no node answers, or slots keep moving while a failover settles.
  RootNodesUnavailableError,
  MaxCommandRedirectionsError,
];

/**
 * Error replies a server gives while a failover is under way: a replica that was the primary
 * (READONLY), a replica still syncing (LOADING, MASTERDOWN), a cluster without a master for the
 * slot (CLUSTERDOWN), a slot in motion (TRYAGAIN), no replica for a durable write (NOREPLICAS).
 */
const FAILOVER_REPLY = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS) /;
/** node-redis 6's Sentinel client rejects with plain Errors while no primary can be found. */
const NO_PRIMARY = /^(None of the sentinels are available|no valid master node)$/;

export const isRedisOutage = (err: unknown): boolean =>
  REDIS_DOWN.some((cls) => err instanceof cls) ||
  err instanceof NotReplicatedError ||
  (err instanceof ErrorReply && FAILOVER_REPLY.test(err.message)) ||
  (err instanceof Error && NO_PRIMARY.test(err.message));

/**
 * Applies a list of leaf changes to the stored session, atomically; does nothing when the
 * session is gone (so a request still in flight after logout cannot bring it back).
 */
const MERGE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local session = cjson.decode(current)
for _, change in ipairs(cjson.decode(ARGV[1])) do
  local node, path = session, change.path
  for i = 1, #path - 1 do
    if type(node[path[i]]) ~= 'table' then node[path[i]] = {} end
    node = node[path[i]]
  end
  node[path[#path]] = change.value
end
redis.call('SET', KEYS[1], cjson.encode(session), 'PX', ARGV[2])
return 1`;

/**
 * Sessions in Redis under their public ids (see SessionStoreBase): a read is one GET, a save of
 * a loaded session one EVAL of the merge script, a new session one SET after its index row.
 */
export class RedisSessionStore extends IndexedKeyValueStore {
  constructor(
    private readonly redis: Redis,
    index: SessionIndex,
    private readonly deadline: Deadline,
    lifetime: SessionLifetime,
    onError: (message: string, err: unknown) => void,
    /** Durable logins: creating and ending a session wait for a replica (see Durability). */
    private readonly durable?: { redis: Redis; durability: Durability },
  ) {
    super(index, lifetime, onError);
  }

  protected fetch(id: string): Promise<string | null> {
    return this.deadline.within(this.redis.get(sessionKeyOf(id)));
  }

  /** One GET per session rather than MGET: under Redis Cluster the keys are in different slots. */
  fetchMany(ids: string[]): Promise<Array<string | null>> {
    return Promise.all(ids.map((id) => this.fetch(id)));
  }

  protected async put(id: string, stored: string, ttlMs: number): Promise<void> {
    const key = sessionKeyOf(id);
    const redis = this.durable?.redis ?? this.redis;
    await this.deadline.within(
      redis.set(key, stored, { expiration: { type: 'PX', value: ttlMs } }),
    );
    await this.replicated(key);
  }

  /**
   * With durable logins, resolves once a replica has the write just made to `key` (sent on the
   * durable connection); otherwise at once. A write no replica acknowledged is not reported as
   * done: the client gets a 503 and retries, rather than a login that a failover could undo.
   */
  private async replicated(key: string): Promise<void> {
    if (!this.durable) return;
    const { replicas, wait } = this.durable.durability;
    if ((await this.deadline.within(wait(key))) < replicas) throw new NotReplicatedError(replicas);
  }

  protected async merge(id: string, changes: Change[], ttlMs: number): Promise<void> {
    await this.deadline.within(
      this.redis.eval(MERGE_SCRIPT, {
        keys: [sessionKeyOf(id)],
        arguments: [JSON.stringify(changes), String(ttlMs)],
      }),
    );
  }

  protected async drop(ids: string[]): Promise<number> {
    // One DEL per key: a session's keys may live on different Cluster nodes. node-redis
    // pipelines commands sent together, so this is still one round trip to one server.
    const redis = this.durable?.redis ?? this.redis;
    const ended = await Promise.all(
      ids.map(async (id) => {
        const key = sessionKeyOf(id);
        const n = await this.deadline.within(redis.del(key));
        await this.replicated(key); // a lost logout would bring the session back
        return n;
      }),
    );
    return ended.reduce((a, b) => a + b, 0);
  }
}

/** INCR, and the window's expiry set by the first hit only (PEXPIRE NX), in one step. */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1], 'NX')
return count`;

/**
 * One counter per key for all replicas: INCR, and the window starts with the first hit. Every
 * command names one key (one-key Lua rather than MULTI), so it works alike on one server, behind
 * Sentinel and on Redis Cluster.
 */
export class RedisAttemptCounter implements AttemptCounter {
  constructor(
    private readonly redis: Redis,
    private readonly deadline: Deadline,
  ) {}

  async hit(key: string, windowMs: number): Promise<number> {
    const sent = this.redis.eval(HIT_SCRIPT, {
      keys: [attemptsKey(key)],
      arguments: [String(windowMs)],
    });
    try {
      return Number(await this.deadline.within(sent));
    } catch (err) {
      // Past the deadline the command may still run: Sentinel's client holds commands while it
      // finds a new primary, then sends them. The request got a 503, so the attempt must not
      // count: queue the take-back behind it, on the same connection (it runs after the INCR).
      if (err instanceof TimeoutError) void this.unhit(key).catch(() => undefined);
      throw err;
    }
  }

  private unhit(key: string): Promise<unknown> {
    // Only while the window lives: DECR on a missing key would create one without a TTL.
    return this.redis.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0",
      { keys: [attemptsKey(key)] },
    );
  }

  async peek(key: string): Promise<number> {
    return Number((await this.deadline.within(this.redis.get(attemptsKey(key)))) ?? 0);
  }

  async reset(key: string): Promise<void> {
    await this.deadline.within(this.redis.del(attemptsKey(key)));
  }

  async release(key: string): Promise<void> {
    await this.deadline.within(this.unhit(key));
  }
}

/**
 * The store, registry and counter over a connected (or connecting) client. Every command is
 * bounded by `timeoutMs`, so a stalled Redis cannot hang a request either.
 */
export function redisSessionBackend(
  client: Redis,
  o: SessionLifetime & {
    database: DataSource;
    timeoutMs: number;
    onError: (message: string, err: unknown) => void;
    /**
     * Durable logins: a second client of the same kind for the writes that wait for a replica
     * (WAIT blocks its connection meanwhile: reads keep their own), and how to wait.
     */
    durable?: { redis: Redis; durability: Durability };
  },
): SessionBackend {
  const deadline = new Deadline(o.timeoutMs);
  const index = new SessionIndex(o.database);
  const store = new RedisSessionStore(client, index, deadline, o, o.onError, o.durable);
  const clients = o.durable ? [client, o.durable.redis] : [client];
  return {
    store,
    registry: new IndexedSessionRegistry(index, store),
    attempts: new RedisAttemptCounter(client, deadline),
    // Every session is in Redis, or nowhere: a request that got this far found it there.
    locate: async () => [{ holder: 'Redis', role: 'shared by every replica' }],
    ready: async () => {
      await deadline.within(client.ping());
    },
    close: async () => {
      for (const c of clients) {
        if (c.isOpen) await c.close();
        else await c.destroy();
      }
    },
  };
}
