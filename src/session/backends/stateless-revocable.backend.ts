import { z } from 'zod';
import { sealedInCookie, type Revocations } from '../sealed/cookie-session.js';
import { defineBackend } from './backend.js';
import { Deadline } from './deadline.js';
import { connectRedis, isRedisOutage, RedisAttemptCounter, type Redis } from './redis-store.js';
import { sealedRegistry } from './sealed-registry.js';

const config = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'a redis:// or rediss:// URL' }),
});

const revokedKey = (publicId: string) => `revoked:${publicId}`;
const cutOffKey = (userId: string) => `sessions-cut-off:${userId}`;

/** A user's cut-off: every session of theirs that began before `at` is refused, except `keep`. */
interface CutOff {
  at: number;
  keep: string | null;
}

/**
 * A denylist in Redis beside cookies that carry the session (`stateless-revocable`): logout puts
 * the session's public id on it until the cookie would have expired, and "log out my other
 * sessions" sets a per-user cut-off. Every request with a session asks both, in one round trip
 * (node-redis pipelines the two GETs of one tick): the store lookup the sealed cookie saved, back.
 */
class RedisRevocations implements Revocations {
  constructor(
    private readonly redis: Redis,
    private readonly deadline: Deadline,
    private readonly absoluteTimeoutMs: number,
  ) {}

  async allows(s: { publicId: string; userId: string; createdAt: number }): Promise<boolean> {
    const [revoked, cutOff] = await this.deadline.within(
      Promise.all([this.redis.get(revokedKey(s.publicId)), this.redis.get(cutOffKey(s.userId))]),
    );
    if (revoked !== null) return false;
    if (cutOff === null) return true;
    const { at, keep } = JSON.parse(cutOff) as CutOff;
    return s.createdAt >= at || s.publicId === keep;
  }

  async revoke(publicId: string, until: number): Promise<void> {
    const ms = until - Date.now();
    if (ms <= 0) return; // its cookie has expired already
    await this.deadline.within(
      this.redis.set(revokedKey(publicId), '1', { expiration: { type: 'PX', value: ms } }),
    );
  }

  /** Kept for the absolute lifetime: by then every session it refuses has expired anyway. */
  async cutOff(userId: string, keep: string | null): Promise<void> {
    const value: CutOff = { at: Date.now(), keep };
    await this.deadline.within(
      this.redis.set(cutOffKey(userId), JSON.stringify(value), {
        expiration: { type: 'PX', value: this.absoluteTimeoutMs },
      }),
    );
  }
}

/**
 * The session sealed into its cookie, as in `stateless`, plus a denylist in Redis that makes
 * logout and revocation final again, at the price of one Redis round trip per request. With Redis
 * down a request with a session gets a 503: a revoked cookie must not pass because nobody could
 * check. There is still no list of sessions: the server never learns of one until it is revoked.
 */
export const statelessRevocableBackend = defineBackend({
  name: 'stateless-revocable',
  summary: 'sealed into the cookie, with a denylist of revoked sessions in Redis',
  inCookie: true,
  config,
  services: ['redis'],
  scope: { sessionList: 'none', loginLimit: 'cluster' },
  async create(deps) {
    const client = connectRedis(deps.config.REDIS_URL, deps);
    const deadline = new Deadline(deps.timeoutMs);
    const revocations = new RedisRevocations(client, deadline, deps.absoluteTimeoutMs);
    return {
      sealed: sealedInCookie(deps.secrets, revocations),
      registry: sealedRegistry((userId, keep) => revocations.cutOff(userId, keep)),
      attempts: new RedisAttemptCounter(client, deadline),
      locate: async () => [
        { holder: 'your browser', role: 'the only copy: sealed in the cookie' },
        { holder: 'Redis', role: 'only whether it was revoked, checked on every request' },
      ],
      ready: async () => {
        await deadline.within(client.ping());
      },
      close: async () => {
        if (client.isOpen) await client.close();
        else client.destroy();
      },
    };
  },
  isOutage: isRedisOutage,
});
