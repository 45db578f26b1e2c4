import { RedisStore } from 'connect-redis';
import type { Request } from 'express';
import type { Session, SessionData } from 'express-session';
import { createClient } from 'redis';
import type {
  AttemptCounter,
  SessionBackend,
  SessionBackendOptions,
  SessionRegistry,
  StoredSession,
} from '../session.types.js';
import { sessionTtlMs } from '../session.types.js';
import { SessionCodec } from '../session-codec.js';
import { changesOf, markLoaded, type Change } from '../session-merge.js';

const SESSION_PREFIX = 'sess:';
const sessionKey = (sid: string) => SESSION_PREFIX + sid;
/** Per-user index: a sorted set of session ids scored by their absolute expiry (epoch ms). */
const userIndexKey = (userId: string) => `user-sessions:${userId}`;
const attemptsKey = (key: string) => `login-attempts:${key}`;

function connectRedis(options: SessionBackendOptions) {
  const client = createClient({
    url: options.redisUrl,
    // Without this, node-redis queues commands while Redis is down and requests hang until it
    // returns. With it they fail at once and the request gets a 503.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.timeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
    },
  });
  let lastLogged = 0;
  client.on('error', (err: unknown) => {
    // A down Redis emits an error per reconnect attempt; one line every 5 s is enough.
    if (Date.now() - lastLogged > 5000) {
      lastLogged = Date.now();
      options.onError('redis connection error', err);
    }
  });
  return client;
}

type Redis = ReturnType<typeof connectRedis>;

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
type Callback<T = void> = (err?: unknown, value?: T) => void;

/**
 * connect-redis, plus a per-user index kept in step with create and destroy, so a user's sessions
 * can be listed and revoked without scanning every key. Sliding expiry is refreshed by saving the
 * session (see SessionActivity), so `touch` is off: an authenticated read costs one GET.
 */
export class RedisSessionStore extends RedisStore {
  readonly codec: SessionCodec;

  constructor(
    private readonly redis: Redis,
    private readonly options: SessionBackendOptions,
    codec = new SessionCodec({ maxAgeMs: options.idleTimeoutMs }),
  ) {
    super({
      serializer: {
        parse: (raw: string) => codec.decode(raw),
        stringify: (sess: SessionData) => codec.encode(sess),
      },
      client: redis as unknown as ConstructorParameters<typeof RedisStore>[0]['client'],
      prefix: SESSION_PREFIX,
      disableTouch: true,
      ttl: (sess: SessionData) => Math.ceil(sessionTtlMs(sess, options) / 1000),
    });
    this.codec = codec;
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    const loaded = JSON.stringify(data); // before express-session turns data.cookie into a Cookie
    const session = super.createSession(req, data);
    markLoaded(session, loaded);
    return session;
  }

  override async set(sid: string, sess: SessionData, cb?: Callback): Promise<void> {
    const now = Date.now();
    const ttlMs = sessionTtlMs(sess, this.options, now);
    if (ttlMs <= 0) return this.destroy(sid, cb);
    const changes = changesOf(sess);
    if (changes) return this.update(sid, sess, changes, ttlMs, cb);
    const userId = sess.passport?.user?.id;
    try {
      const tx = this.redis.multi();
      tx.set(sessionKey(sid), this.codec.encode(sess), {
        expiration: { type: 'PX', value: ttlMs },
      });
      if (userId) {
        const absoluteExpiry = (sess.meta?.createdAt ?? now) + this.options.absoluteTimeoutMs;
        tx.zAdd(userIndexKey(userId), { score: absoluteExpiry, value: sid });
        // The index lives as long as its longest-lived session. GT alone never sets a first
        // expiry (to Redis "no TTL" is infinite), hence NX first.
        tx.pExpireAt(userIndexKey(userId), absoluteExpiry, 'NX');
        tx.pExpireAt(userIndexKey(userId), absoluteExpiry, 'GT');
      }
      await tx.exec();
      cb?.();
    } catch (err) {
      if (!cb) throw err;
      cb(err);
    }
  }

  /** A session loaded from the store: write only what changed, and never re-create it. */
  private async update(
    sid: string,
    sess: SessionData,
    changes: Change[],
    ttlMs: number,
    cb?: Callback,
  ) {
    try {
      const stored = changes.map((c) => this.codec.encodeChange(c)).filter((c) => c !== undefined);
      if (stored.length) {
        await this.redis.eval(MERGE_SCRIPT, {
          keys: [sessionKey(sid)],
          arguments: [JSON.stringify(stored), String(ttlMs)],
        });
      }
      markLoaded(sess, JSON.stringify(sess));
      cb?.();
    } catch (err) {
      if (!cb) throw err;
      cb(err);
    }
  }

  override async destroy(sid: string, cb?: Callback): Promise<void> {
    try {
      const raw = await this.redis.get(sessionKey(sid));
      const userId = raw ? this.codec.decode(raw).passport?.user?.id : undefined;
      await this.remove(sid, userId);
      cb?.();
    } catch (err) {
      if (!cb) throw err;
      cb(err);
    }
  }

  /** Deletes the session and its index entry; true if the session still existed. */
  async remove(sid: string, userId: string | undefined): Promise<boolean> {
    const tx = this.redis.multi().del(sessionKey(sid));
    if (userId) tx.zRem(userIndexKey(userId), sid);
    const [deleted] = await tx.exec();
    return Number(deleted) > 0;
  }
}

class RedisSessionRegistry implements SessionRegistry {
  readonly scope = 'cluster' as const;
  constructor(
    private readonly redis: Redis,
    private readonly store: RedisSessionStore,
  ) {}

  async list(userId: string): Promise<StoredSession[]> {
    const key = userIndexKey(userId);
    await this.redis.zRemRangeByScore(key, '-inf', Date.now());
    const sids = await this.redis.zRange(key, 0, -1);
    if (sids.length === 0) return [];
    const values = await this.redis.mGet(sids.map(sessionKey));
    const live: StoredSession[] = [];
    const gone: string[] = [];
    sids.forEach((sid, i) => {
      const raw = values[i];
      if (!raw) return void gone.push(sid); // expired while idle: drop it from the index too
      const meta = this.store.codec.decode(raw).meta;
      live.push({ sid, userId, meta });
    });
    if (gone.length) await this.redis.zRem(key, gone);
    return live;
  }

  async revoke(userId: string, sid: string): Promise<boolean> {
    const score = await this.redis.zScore(userIndexKey(userId), sid);
    if (score === null) return false;
    return this.store.remove(sid, userId);
  }

  async revokeAllExcept(userId: string, keepSid: string | null): Promise<number> {
    const sids = (await this.redis.zRange(userIndexKey(userId), 0, -1)).filter(
      (s) => s !== keepSid,
    );
    for (const sid of sids) await this.store.remove(sid, userId);
    return sids.length;
  }
}

/** One counter per key for all replicas: INCR, and the window starts with the first hit. */
class RedisAttemptCounter implements AttemptCounter {
  constructor(private readonly redis: Redis) {}

  async hit(key: string, windowMs: number): Promise<number> {
    const [count] = await this.redis
      .multi()
      .incr(attemptsKey(key))
      .pExpire(attemptsKey(key), windowMs, 'NX')
      .exec();
    return Number(count);
  }

  async peek(key: string): Promise<number> {
    return Number((await this.redis.get(attemptsKey(key))) ?? 0);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(attemptsKey(key));
  }

  async release(key: string): Promise<void> {
    // Only while the window lives: DECR on a missing key would create one without a TTL.
    await this.redis.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0",
      {
        keys: [attemptsKey(key)],
      },
    );
  }
}

export function createRedisBackend(options: SessionBackendOptions): SessionBackend {
  if (!options.redisUrl) throw new Error('the redis session backend needs REDIS_URL');
  const client = connectRedis(options);
  // Connect in the background: a replica may start before Redis and must recover when it comes.
  client.connect().catch((err: unknown) => options.onError('redis connect failed', err));
  // Every command this app sends is bounded, so a stalled Redis cannot hang a request either.
  const redis = client.withCommandOptions({ timeout: options.timeoutMs }) as unknown as Redis;
  const store = new RedisSessionStore(redis, options);
  return {
    name: 'redis',
    store,
    registry: new RedisSessionRegistry(redis, store),
    attempts: new RedisAttemptCounter(redis),
    ping: async () => {
      await redis.ping();
    },
    close: async () => {
      if (client.isOpen) await client.close();
      else client.destroy();
    },
  };
}
