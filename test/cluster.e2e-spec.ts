/**
 * The native runner: each profile starts on free ports, serves a login through nginx, and
 * stops leaving no process behind (checked by PID).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { startCluster } from '../cluster/cluster.js';
import { profileNames } from '../cluster/profiles.js';
import { alive } from './support/cluster.js';
import { HttpClient } from './support/http-client.js';
import { login, register, uniqueName, whoami } from './support/steps.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe.each(profileNames)('profile %s', (profile) => {
  it('starts, serves a login through nginx, and stops every process it started', async () => {
    const workDir = await mkdtemp(join(tmpdir(), `scaled-login-cluster-${profile}-`));
    dirs.push(workDir);
    const cluster = await startCluster({
      profile,
      workDir,
      fastPostgres: true,
      env: { LOG_LEVEL: 'warn', ARGON2_MEMORY_KIB: '1024' },
    });
    const pids = cluster.status().map((m) => m.pid!);
    try {
      expect(cluster.status().map((m) => m.name)).toEqual([
        'postgres',
        ...(profile === 'redis' ? ['redis'] : []),
        'app-1',
        'app-2',
        'app-3',
        'nginx',
      ]);
      expect(pids.every(alive)).toBe(true);

      const client = new HttpClient(cluster.url);
      const name = uniqueName(profile);
      expect((await register(client, name)).status).toBe(201);
      const res = await login(client, name);
      expect(res.status).toBe(200);
      expect(cluster.replicas).toContain(res.servedBy);
      expect(res.headers['x-upstream-addr']).toMatch(/^127\.0\.0\.1:\d+$/);
      // The replica that handled the login always knows the session.
      const direct = new HttpClient(cluster.replicaUrl(res.servedBy!));
      direct.cookies.set('sid', client.cookie('sid')!);
      expect((await whoami(direct)).body).toMatchObject({
        authenticated: true,
        store: cluster.profile.store,
        profile,
      });
    } finally {
      await cluster.stop();
    }
    expect(pids.filter(alive)).toEqual([]);
  }, 120_000);
});
