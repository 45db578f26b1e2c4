/**
 * Profile `naive` (round-robin + in-memory sessions): the session-mismatch failure.
 * A login is known only to the replica that handled it; every other replica treats the same
 * cookie as a stranger's, through the API and on the pages.
 */
import { describe, expect, it } from '@jest/globals';
import { useCluster } from './support/cluster.js';
import { register, uniqueName, whoami } from './support/steps.js';

const cluster = useCluster('naive');

describe('naive: round-robin over in-memory sessions', () => {
  it('only the replica that handled the login knows the session', async () => {
    const client = cluster.client();
    const reg = await register(client, uniqueName('naive'));
    expect(reg.status).toBe(201);
    const home = reg.servedBy!;

    const answers = [];
    for (let i = 0; i < 9; i++) answers.push(await whoami(client));
    const byReplica = new Map<string, boolean[]>();
    for (const a of answers) {
      const seen = byReplica.get(a.servedBy!) ?? [];
      seen.push((a.body as { authenticated: boolean }).authenticated);
      byReplica.set(a.servedBy!, seen);
    }
    // Round-robin reaches every replica...
    expect([...byReplica.keys()].sort()).toEqual([...cluster.replicas]);
    // ...and only the login replica ever says "authenticated".
    for (const [replica, results] of byReplica) {
      expect(results.every((r) => r === (replica === home))).toBe(true);
    }
  });

  it('protected API routes answer 401 on the other replicas', async () => {
    const client = cluster.client();
    const home = (await register(client, uniqueName('naive'))).servedBy!;
    for (const replica of cluster.replicas) {
      const res = await cluster.direct(replica, client).get('/api/me');
      expect([replica, res.status]).toEqual([replica, replica === home ? 200 : 401]);
    }
  });

  it('the profile page bounces to the login page when another replica serves it', async () => {
    const client = cluster.client();
    const home = (await register(client, uniqueName('naive'))).servedBy!;
    const outcomes = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      const res = await client.get('/profile', { headers: { accept: 'text/html' } });
      outcomes.set(
        res.servedBy!,
        res.status === 200 ? 'profile' : `${res.status} ${String(res.headers.location)}`,
      );
    }
    for (const replica of cluster.replicas) {
      expect([replica, outcomes.get(replica)]).toEqual([
        replica,
        replica === home ? 'profile' : '303 /login?next=%2Fprofile',
      ]);
    }
    // The login page it lands on explains why.
    const bounced = await cluster
      .direct(
        cluster.replicas.find((r) => r !== home)!,
        client,
      )
      .get('/login', {
        headers: { accept: 'text/html' },
      });
    expect(bounced.text).toMatch(/does not\s+recognise it/);
  });
});
