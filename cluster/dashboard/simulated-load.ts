import { randomBytes } from 'node:crypto';
import { isAuthenticated, VirtualClient } from '../virtual-client.js';

const PASSWORD = 'simulated client password';
/** Between one client's requests: a browser tab polling, not a benchmark. */
const THINK_MS = 500;

export interface SimulatedLoadState {
  running: boolean;
  clients: number;
  loggedIn: number;
  /** Simulated clients by the replica that last answered them while logged in. */
  byReplica: Record<string, number>;
  /** Logouts seen since the start (each client logs in again at once). */
  loggedOut: number;
  /** Requests without a 2xx answer (refused, 5xx, timed out). */
  failed: number;
  requests: number;
}

/** Client i's own /24 (ip_hash tells clients apart by it), away from the tests' and the benchmark's. */
const address = (i: number) => `127.77.${1 + (i % 250)}.1`;

/**
 * A small built-in load for the dashboard: `count` clients, each a user of its own that registers
 * once, then reads whoami twice a second through nginx. A client that finds itself logged out
 * reports it (the timeline blames the latest event) and logs in again.
 */
export class SimulatedLoad {
  private clients: VirtualClient[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly home = new Map<VirtualClient, string>();
  private readonly loggedIn = new Set<VirtualClient>();
  private counts = { loggedOut: 0, failed: 0, requests: 0 };

  constructor(
    private readonly baseUrl: string,
    private readonly onLoggedOut: () => void,
  ) {}

  async start(count: number): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.counts = { loggedOut: 0, failed: 0, requests: 0 };
    const run = randomBytes(4).toString('hex');
    this.clients = Array.from(
      { length: count },
      (_, i) => new VirtualClient(this.baseUrl, address(i)),
    );
    this.loops = this.clients.map((client, i) => this.loop(client, `sim-${run}-${i}`));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.clients.forEach((c) => {
      c.close();
    });
    this.clients = [];
    this.home.clear();
    this.loggedIn.clear();
  }

  state(): SimulatedLoadState {
    const byReplica: Record<string, number> = {};
    for (const c of this.loggedIn) {
      const r = this.home.get(c);
      if (r) byReplica[r] = (byReplica[r] ?? 0) + 1;
    }
    return {
      running: this.running,
      clients: this.clients.length,
      loggedIn: this.loggedIn.size,
      byReplica,
      ...this.counts,
    };
  }

  private async loop(client: VirtualClient, username: string): Promise<void> {
    const send = async (method: string, path: string, json?: unknown) => {
      const reply = await client.send(method, path, json);
      this.counts.requests++;
      if (reply.status < 200 || reply.status > 299) this.counts.failed++;
      return reply;
    };
    const signIn = async () => {
      const reply = await send('POST', '/api/auth/login', { username, password: PASSWORD });
      if (reply.status === 200) this.loggedIn.add(client);
    };
    // Registered once the server said so (201), or said the name is taken (409: an earlier
    // attempt got through, its answer did not); until then a failed attempt is made again.
    const account = { registered: false };
    const register = async () => {
      const reply = await send('POST', '/api/auth/register', { username, password: PASSWORD });
      if (reply.status === 201) this.loggedIn.add(client);
      account.registered = reply.status === 201 || reply.status === 409;
      if (reply.status === 409) await signIn();
    };
    await register();
    while (this.running) {
      const reply = await send('GET', '/api/whoami');
      if (isAuthenticated(reply)) {
        this.home.set(client, reply.servedBy);
      } else if (reply.status === 200 && this.loggedIn.delete(client)) {
        this.counts.loggedOut++;
        this.onLoggedOut();
        await signIn();
      } else if (!this.loggedIn.has(client) && reply.status === 200) {
        // Registration or an earlier login failed: try again.
        if (account.registered) await signIn();
        else await register();
      }
      await new Promise((resolve) => setTimeout(resolve, THINK_MS));
    }
  }
}
