/**
 * Measurement 6: what one login costs. Users are registered through the API, so their password
 * hashes have the cost the app is configured with (argon2id, OWASP's minimum by default), then
 * log in through nginx: one after another (the latency of one login), and from several clients
 * at once (how many logins per second the replicas sustain). Reported, not optimized away.
 */
import pg from 'pg';
import { Histogram } from '../histogram.js';
import { VirtualClient } from '../../cluster/virtual-client.js';
import { defined } from '../../src/common/defined.js';
import { clientAddress } from '../load.js';
import type { LoginResult } from '../results.js';
import type { Subject } from '../subject.js';
import { PASSWORD } from '../users.js';

// Far above the load clients' addresses, so the login throttle's per-address count is theirs alone.
const FIRST_ADDRESS = 20_000;
/** Times a set-up registration answered 503 is sent again, a second apart. */
const SETTLE_ATTEMPTS = 20;

export async function measureLogin(
  s: Subject,
  o: { sequential: number; clients: number; seconds: number },
): Promise<LoginResult> {
  const users = Array.from({ length: o.clients }, (_, i) => ({
    client: new VirtualClient(s.url, clientAddress(FIRST_ADDRESS + i)),
    username: `login-${i}-${Date.now().toString(36)}`,
  }));
  try {
    for (const { client, username } of users) {
      // Set-up, not what is measured: a store still settling (a restarted Redis primary not yet
      // a replica again, which durable logins wait for) answers 503; asked again as it says.
      for (let attempt = 0; ; attempt++) {
        const reply = await client.send('POST', '/api/auth/register', {
          username,
          password: PASSWORD,
        });
        if (reply.status === 201) break;
        if (reply.status !== 503 || attempt === SETTLE_ATTEMPTS)
          throw new Error(`register: ${reply.status} ${await s.topology.explain(reply.body)}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    const login = async ({ client, username }: (typeof users)[number]) => {
      client.clearCookies();
      const reply = await client.send('POST', '/api/auth/login', { username, password: PASSWORD });
      if (reply.status !== 200) throw new Error(`login: ${reply.status} ${reply.body}`);
      return reply.ms;
    };

    const first = defined(users[0], 'a login user');
    const sequential = new Histogram();
    for (let n = 0; n < o.sequential; n++) sequential.record(await login(first));

    const concurrent = new Histogram();
    const end = performance.now() + o.seconds * 1000;
    await Promise.all(
      users.map(async (user) => {
        while (performance.now() < end) concurrent.record(await login(user));
      }),
    );
    return {
      sequential: {
        count: sequential.count,
        p50: sequential.percentile(50),
        p99: sequential.percentile(99),
      },
      concurrent: {
        clients: o.clients,
        seconds: o.seconds,
        perSecond: concurrent.count / o.seconds,
        p50: concurrent.percentile(50),
        p99: concurrent.percentile(99),
      },
      argon2: await hashParameters(s, first.username),
    };
  } finally {
    for (const { client } of users) client.close();
  }
}

/** E.g. "argon2id m=19456 KiB t=2 p=1", from the stored hash of a user the app registered. */
async function hashParameters(s: Subject, username: string): Promise<string> {
  const client = new pg.Client({ connectionString: s.topology.postgresUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ password_hash: string }>(
      'SELECT password_hash FROM users WHERE username = $1',
      [username],
    );
    // "$argon2id$v=19$m=19456,p=1,t=2$<salt>$<hash>" (the order of m, t, p varies by library)
    const [, type, , params] = (rows[0]?.password_hash ?? '').split('$');
    const p: Record<string, string | undefined> = Object.fromEntries(
      (params ?? '').split(',').map((kv) => kv.split('=') as [string, string]),
    );
    return type && p.m && p.t && p.p ? `${type} m=${p.m} KiB t=${p.t} p=${p.p}` : 'unknown';
  } finally {
    await client.end();
  }
}
