import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ReconnectStrategyError,
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
export function connectRedis(
  url: string,
  o: { timeoutMs: number; onError: (message: string, err: unknown) => void },
) {
  const client = createClient({
    url,
    // Without this, node-redis queues commands while Redis is down and requests hang until it
    // returns. With it they fail at once and the request gets a 503.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: o.timeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
    },
  });
  let lastLogged = 0;
  client.on('error', (err: unknown) => {
    // A down Redis emits an error per reconnect attempt; one line every 5 s is enough.
    if (Date.now() - lastLogged > 5000) {
      lastLogged = Date.now();
      o.onError('redis connection error', err);
    }
  });
  client.connect().catch((err: unknown) => o.onError('redis connect failed', err));
  return client;
}

export type Redis = ReturnType<typeof connectRedis>;

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
];

export const isRedisOutage = (err: unknown): boolean =>
  REDIS_DOWN.some((cls) => err instanceof cls);

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
  ) {
    super(index, lifetime, onError);
  }

  protected fetch(id: string): Promise<string | null> {
    return this.deadline.within(this.redis.get(sessionKeyOf(id)));
  }

  fetchMany(ids: string[]): Promise<Array<string | null>> {
    return this.deadline.within(this.redis.mGet(ids.map(sessionKeyOf)));
  }

  protected async put(id: string, stored: string, ttlMs: number): Promise<void> {
    await this.deadline.within(
      this.redis.set(sessionKeyOf(id), stored, { expiration: { type: 'PX', value: ttlMs } }),
    );
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
    return Number(await this.deadline.within(this.redis.del(ids.map(sessionKeyOf))));
  }
}

/** One counter per key for all replicas: INCR, and the window starts with the first hit. */
export class RedisAttemptCounter implements AttemptCounter {
  constructor(
    private readonly redis: Redis,
    private readonly deadline: Deadline,
  ) {}

  async hit(key: string, windowMs: number): Promise<number> {
    const [count] = await this.deadline.within(
      this.redis.multi().incr(attemptsKey(key)).pExpire(attemptsKey(key), windowMs, 'NX').exec(),
    );
    return Number(count);
  }

  async peek(key: string): Promise<number> {
    return Number((await this.deadline.within(this.redis.get(attemptsKey(key)))) ?? 0);
  }

  async reset(key: string): Promise<void> {
    await this.deadline.within(this.redis.del(attemptsKey(key)));
  }

  async release(key: string): Promise<void> {
    // Only while the window lives: DECR on a missing key would create one without a TTL.
    await this.deadline.within(
      this.redis.eval(
        "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0",
        { keys: [attemptsKey(key)] },
      ),
    );
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
  },
): SessionBackend {
  const deadline = new Deadline(o.timeoutMs);
  const index = new SessionIndex(o.database);
  const store = new RedisSessionStore(client, index, deadline, o, o.onError);
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
      if (client.isOpen) await client.close();
      else client.destroy();
    },
  };
}
