import { clientAddress } from '../../bench/load.js';
import { VirtualClient } from '../../cluster/virtual-client.js';
import { PASSWORD } from '../../bench/users.js';
import type { TestCluster } from './cluster.js';
import { uniqueName } from './steps.js';

export interface FailoverClients {
  /** Registered (so logged in) before anything else: their sessions predate the failover. */
  readers: VirtualClient[];
  /** Registered too; the failover measurement logs them in again and again. */
  writers: VirtualClient[];
  usernames: string[];
  close(): void;
}

/**
 * Clients for measureFailover (bench/measurements/failover.ts), each from its own /24 starting at
 * `firstSubnet`, each a user registered through nginx.
 */
export async function failoverClients(
  cluster: TestCluster,
  o: { readers: number; writers: number; firstSubnet: number },
): Promise<FailoverClients> {
  const make = (n: number, offset: number) =>
    Array.from(
      { length: n },
      (_, i) => new VirtualClient(cluster.url, clientAddress(o.firstSubnet + offset + i)),
    );
  const readers = make(o.readers, 0);
  const writers = make(o.writers, o.readers);
  const usernames: string[] = [];
  for (const client of [...readers, ...writers]) {
    const username = uniqueName('failover');
    const reply = await client.send('POST', '/api/auth/register', { username, password: PASSWORD });
    if (reply.status !== 201) throw new Error(`register: ${reply.status} ${reply.body}`);
    usernames.push(username);
  }
  return {
    readers,
    writers,
    usernames: usernames.slice(o.readers),
    close: () => {
      [...readers, ...writers].forEach((c) => {
        c.close();
      });
    },
  };
}
