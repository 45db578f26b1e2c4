/**
 * Profile `naive` (round-robin + in-memory sessions): the session-mismatch failure, as a user
 * meets it. That a session is known only to the replica that made it is checked by the guarantee
 * suite (guarantees.e2e-spec.ts); here, what that does to the API and the pages.
 */
import { describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { useCluster } from './support/cluster.js';
import { register, uniqueName } from './support/steps.js';

const cluster = useCluster('naive');

describe('naive: round-robin over in-memory sessions', () => {
  it('protected API routes answer 401 on the other replicas', async () => {
    const client = cluster.client();
    const home = defined(
      (await register(client, uniqueName('naive'))).servedBy,
      'the replica that registered',
    );
    for (const replica of cluster.replicas) {
      const res = await cluster.direct(replica, client).get('/api/me');
      expect([replica, res.status]).toEqual([replica, replica === home ? 200 : 401]);
    }
  });

  it('the profile page bounces to the login page when another replica serves it', async () => {
    const client = cluster.client();
    const home = defined(
      (await register(client, uniqueName('naive'))).servedBy,
      'the replica that registered',
    );
    const outcomes = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      const res = await client.get('/profile', { headers: { accept: 'text/html' } });
      outcomes.set(
        defined(res.servedBy, 'the replica that served the page'),
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
        defined(
          cluster.replicas.find((r) => r !== home),
          'a replica other than home',
        ),
        client,
      )
      .get('/login', {
        headers: { accept: 'text/html' },
      });
    expect(bounced.text).toMatch(/does not\s+recognise it/);
  });
});
