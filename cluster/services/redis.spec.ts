import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRoleFile } from './redis.js';

describe('ensureRoleFile', () => {
  it('writes a new file, and keeps an old one less the absolute dir Redis rewrote into it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'redis-role-'));
    try {
      expect(await ensureRoleFile(dir, ['replica-announce-ip redis-ha-1'])).toBe(true);
      expect(await readFile(join(dir, 'redis.conf'), 'utf8')).toBe(
        'replica-announce-ip redis-ha-1\n',
      );

      // What CONFIG REWRITE leaves after a role change, in a work dir that has moved since.
      const rewritten =
        'replica-announce-ip redis-ha-1\ndir "/gone/redis-ha/redis-2"\nreplicaof 127.0.0.1 6379\n';
      await writeFile(join(dir, 'redis.conf'), rewritten);
      expect(await ensureRoleFile(dir, ['ignored'])).toBe(false);
      expect(await readFile(join(dir, 'redis.conf'), 'utf8')).toBe(
        'replica-announce-ip redis-ha-1\nreplicaof 127.0.0.1 6379\n',
      );
      // Twice on the same state: nothing changes.
      expect(await ensureRoleFile(dir)).toBe(false);
      expect(await readFile(join(dir, 'redis.conf'), 'utf8')).toBe(
        'replica-announce-ip redis-ha-1\nreplicaof 127.0.0.1 6379\n',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
