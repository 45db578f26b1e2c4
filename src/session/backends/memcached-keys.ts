import { hash } from 'node:crypto';

/**
 * Memcached keys: at most 250 bytes, no spaces or control characters. A session's key is its
 * public id (22 base64url characters), which always fits; anything else that becomes part of a
 * key (a login-attempt key holds a username and an address) is hashed first, so no input can
 * make an invalid key or reach another key's name.
 */
export const sessionKeyOf = (publicId: string): string => `s:${publicId}`;
export const attemptsKeyOf = (key: string): string => `a:${hash('sha256', key, 'base64url')}`;

/** What memcached accepts as a key (binary protocol: bytes; we keep to printable ASCII). */
export const isValidKey = (key: string): boolean =>
  Buffer.byteLength(key) <= 250 && /^[\x21-\x7e]+$/.test(key);

/**
 * Which node holds `key`: rendezvous (highest random weight) hashing over the nodes' names. It
 * is consistent — a node that leaves moves only its own keys, one that joins takes only its share
 * — and every replica picks the same node without sharing any state, whatever order it lists
 * the nodes in.
 */
export function nodeFor(key: string, nodes: readonly string[]): number {
  let best = -1;
  let bestScore = -1;
  nodes.forEach((node, i) => {
    const score = hash('sha1', `${node}\n${key}`, 'buffer').readUIntBE(0, 6);
    if (score > bestScore) [best, bestScore] = [i, score];
  });
  return best;
}
