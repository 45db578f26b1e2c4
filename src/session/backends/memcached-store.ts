import memjs from 'memjs';
import type { AttemptCounter, SessionLifetime } from '../session.types.js';
import { apply, type Change, type Json } from '../session-merge.js';
import { StoreTimeoutError, type Deadline } from './deadline.js';
import { attemptsKeyOf, nodeFor, sessionKeyOf } from './memcached-keys.js';
import type { SessionIndex } from './session-index.js';
import { IndexedKeyValueStore } from './store-base.js';

export type Memcached = memjs.Client;

/** Seconds a node that failed is skipped before it is tried again (and used again if it is back). */
export const RETRY_NODE_AFTER_S = 3;

/**
 * A client for every node at once: each key lives on one node, chosen by rendezvous hashing
 * (memcached-keys.ts). A node that fails a request is skipped for RETRY_NODE_AFTER_S, its keys
 * going to the next node meanwhile (memjs' failover): to whoever had a session there, that is a
 * logout, and everyone else never notices. When all nodes fail, requests fail: a 503.
 */
export function connectMemcached(servers: string[], o: { timeoutMs: number }): Memcached {
  // The same order on every replica, whatever order they were given in: memjs' failover goes
  // to the next node in the list.
  const nodes = [...servers].sort();
  const client = memjs.Client.create(nodes.join(','), {
    failover: true,
    failoverTime: RETRY_NODE_AFTER_S,
    // One try per node: a retry of a dead node costs the request a second timeout.
    retries: 1,
    timeout: o.timeoutMs / 1000,
    conntimeout: o.timeoutMs / 1000,
    keepAlive: true,
    // memjs logs every failed request to the console; the store reports what matters.
    logger: { log: () => undefined },
  });
  const names = client.servers.map((s) => `${s.host}:${s.port}`);
  // memjs picks `servers[getServer(key)]` (@types/memjs says it returns a string; it is an index).
  (client as unknown as { getServer: (key: string) => number }).getServer = (key) =>
    nodeFor(key, names);
  return client;
}

/**
 * The node a session's key hashes to (host:port). While that node is skipped after a failure,
 * the session is on the next one instead.
 */
export const nodeOf = (client: Memcached, publicId: string): string => {
  const names = client.servers.map((s) => `${s.host}:${s.port}`);
  const node = names[nodeFor(sessionKeyOf(publicId), names)];
  if (node === undefined) throw new Error('the memcached client has no servers');
  return node;
};

/** memjs' errors that mean "no node answered" (it has no error classes of its own). */
const DOWN = /No servers available|socket timed out|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/;
export const isMemcachedOutage = (err: unknown): boolean =>
  err instanceof StoreTimeoutError || (err instanceof Error && DOWN.test(err.message));

const DO_NOT_CREATE = 0xffffffff;
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * Sessions on the memcached nodes under their public ids (see SessionStoreBase); the per-user
 * index in Postgres, as with Redis. Memcached has no scripts: a save of a loaded session reads
 * the session, applies this request's changes and writes it back with REPLACE, which only
 * succeeds while the key exists — a session destroyed meanwhile stays destroyed. Unlike Redis'
 * atomic merge, two saves of one session at the same moment can lose one's change (the window is
 * one round trip); memjs offers no CAS to close it.
 */
export class MemcachedSessionStore extends IndexedKeyValueStore {
  constructor(
    private readonly client: Memcached,
    index: SessionIndex,
    private readonly deadline: Deadline,
    lifetime: SessionLifetime,
    onError: (message: string, err: unknown) => void,
  ) {
    super(index, lifetime, onError);
  }

  protected async fetch(id: string): Promise<string | null> {
    const { value } = await this.deadline.within(this.client.get(sessionKeyOf(id)));
    return value ? value.toString('utf8') : null;
  }

  fetchMany(ids: string[]): Promise<Array<string | null>> {
    // No multi-get in memjs; a user's list is a handful of keys.
    return Promise.all(ids.map((id) => this.fetch(id)));
  }

  protected async put(id: string, stored: string, ttlMs: number): Promise<void> {
    await this.deadline.within(
      this.client.set(sessionKeyOf(id), stored, { expires: seconds(ttlMs) }),
    );
  }

  protected async merge(id: string, changes: Change[], ttlMs: number): Promise<void> {
    const current = await this.fetch(id);
    if (current === null) return;
    const merged = apply(JSON.parse(current) as Record<string, Json>, changes);
    await this.deadline.within(
      this.client.replace(sessionKeyOf(id), JSON.stringify(merged), { expires: seconds(ttlMs) }),
    );
  }

  protected async drop(ids: string[]): Promise<number> {
    const deleted = await Promise.all(
      ids.map((id) => this.deadline.within(this.client.delete(sessionKeyOf(id)))),
    );
    return deleted.filter(Boolean).length;
  }
}

/**
 * Login-attempt counters on the nodes: INCREMENT with an initial value creates the counter with
 * the window as its expiry, or adds one, atomically on its node. Keys are hashed (any username
 * and address make a valid key). A node that dies takes its counters along: the usernames
 * counted there start a fresh window.
 */
export class MemcachedAttemptCounter implements AttemptCounter {
  constructor(
    private readonly client: Memcached,
    private readonly deadline: Deadline,
  ) {}

  async hit(key: string, windowMs: number): Promise<number> {
    const { value } = await this.deadline.within(
      this.client.increment(attemptsKeyOf(key), 1, { initial: 1, expires: seconds(windowMs) }),
    );
    return value ?? 1;
  }

  async peek(key: string): Promise<number> {
    const { value } = await this.deadline.within(this.client.get(attemptsKeyOf(key)));
    return value ? Number(value.toString()) : 0;
  }

  async reset(key: string): Promise<void> {
    await this.deadline.within(this.client.delete(attemptsKeyOf(key)));
  }

  async release(key: string): Promise<void> {
    // DECREMENT stops at 0. Only while the window lives: an expiry of all one-bits tells memcached
    // not to create a missing counter (which would otherwise have no expiry at all).
    await this.deadline
      .within(this.client.decrement(attemptsKeyOf(key), 1, { expires: DO_NOT_CREATE }))
      .catch((err: unknown) => {
        if (!(err instanceof Error && err.message.includes('Key not found'))) throw err;
      });
  }
}
