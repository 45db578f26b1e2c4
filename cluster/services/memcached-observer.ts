import { defined } from '../../src/common/defined.js';
import type { RunningServer } from './service.js';
import { memcachedCommand, memcachedStats } from './memcached-protocol.js';
import type { SessionSample, StoreObserver } from './service.js';

/** Command counters of `stats`, by the command's name (the observer's `stats` counts in none). */
const COMMANDS: Record<string, string[]> = {
  get: ['cmd_get'],
  set: ['cmd_set'], // set, add, replace, cas
  delete: ['delete_hits', 'delete_misses'],
  incr: ['incr_hits', 'incr_misses'],
  decr: ['decr_hits', 'decr_misses'],
  touch: ['cmd_touch'],
};
/** Session keys as metadump prints them (URL-encoded): `s:<public id>`. */
const SESSION_KEY = /^key=(s%3A\S+) .* size=(\d+)/gm;

/**
 * The benchmark's look into every memcached node, summed. Memcached cannot list keys through
 * its normal commands; `lru_crawler metadump` walks the items for the sample (read-only).
 */
export function observeMemcached(nodes: readonly RunningServer[]): StoreObserver {
  const each = <T>(f: (node: RunningServer) => Promise<T>) =>
    Promise.all(nodes.filter((n) => n.running).map(f));
  const stat = async (names: string[]) =>
    (await each((n) => memcachedStats(n.host, n.port)))
      .flatMap((stats) => names.map((name) => stats.get(name) ?? 0))
      .reduce((a, b) => a + b, 0);

  // Its own GETs (the sample's) count in cmd_get: taken off again in commandCounts.
  let ownGets = 0;

  async function sample(limit: number): Promise<SessionSample> {
    const items: Array<{ node: RunningServer; key: string; size: number }> = [];
    for (const node of nodes.filter((n) => n.running)) {
      const dump = await memcachedCommand(node.host, node.port, 'lru_crawler metadump all', 10_000);
      for (const [, key, size] of dump.matchAll(SESSION_KEY))
        items.push({
          node,
          key: decodeURIComponent(defined(key, 'a session key')),
          size: Number(size),
        });
    }
    const picked = items.slice(0, limit);
    if (picked.length === 0) throw new Error('no session keys on the memcached nodes to sample');
    let valueBytes = 0;
    let example = '';
    for (const { node, key } of picked) {
      const reply = await memcachedCommand(node.host, node.port, `get ${key}`);
      ownGets++;
      const value = reply.split('\r\n')[1] ?? '';
      valueBytes += Buffer.byteLength(value, 'latin1');
      example ||= value;
    }
    return {
      count: picked.length,
      // Item size as memcached accounts it: header, key, value and CAS.
      bytes: picked.reduce((n, i) => n + i.size, 0) / picked.length,
      valueBytes: valueBytes / picked.length,
      example,
    };
  }

  return {
    label: 'Memcached',
    async commandCounts() {
      const counts = new Map<string, number>();
      for (const [name, stats] of Object.entries(COMMANDS))
        counts.set(name, (await stat(stats)) - (name === 'get' ? ownGets : 0));
      return counts;
    },
    usedMemory: () => stat(['bytes']),
    sampleSessions: sample,
    // Sessions and login-attempt counters: an upper bound.
    sessionCount: () => stat(['curr_items']),
    keysPerServer: async () =>
      Object.fromEntries(
        await each(async (n) => [
          n.name,
          (await memcachedStats(n.host, n.port)).get('curr_items') ?? 0,
        ]),
      ),
    close: async () => undefined,
  };
}
