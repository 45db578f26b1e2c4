/**
 * The peer channel's network, natively: every replica listens on its own peer port, and reaches
 * each peer through a relay of its own that the runner owns (one per ordered pair). A relay
 * forwards bytes and nothing else; `partition app-2` closes every relay from and to app-2 (open
 * connections included) and refuses new ones until `heal` — a network cut the replicas cannot
 * tell from a real one. Killing or restarting a replica leaves its ports and relays as they are.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { freePort } from './process/ports.js';

interface Relay {
  from: string;
  to: string;
  port: number;
  server: net.Server;
  sockets: Set<net.Socket>;
}

const HOST = '127.0.0.1';

export class PeerLinks {
  /** Generated per cluster: the replicas sign every peer frame with it. */
  readonly secret = randomBytes(32).toString('base64url');
  private readonly cut = new Set<string>();

  private constructor(
    private readonly ports: Map<string, number>,
    private readonly relays: Relay[],
  ) {}

  static async open(replicas: readonly string[]): Promise<PeerLinks> {
    const ports = new Map<string, number>();
    for (const name of replicas) ports.set(name, await freePort());
    const relays: Relay[] = [];
    const links = new PeerLinks(ports, relays);
    for (const from of replicas)
      for (const to of replicas)
        if (from !== to) relays.push(await links.relay(from, to, await freePort()));
    return links;
  }

  /** The first relay's port: where the status table points. */
  get firstPort(): number {
    return this.relays[0]?.port ?? 0;
  }

  /** REPLICATION_* for one replica: its own port, and its relay to each peer. */
  envFor(replica: string): Record<string, string> {
    return {
      REPLICATION_PORT: String(this.ports.get(replica)),
      REPLICATION_HOST: HOST,
      REPLICATION_SECRET: this.secret,
      REPLICATION_PEERS: this.relays
        .filter((r) => r.from === replica)
        .map((r) => `${r.to}=${HOST}:${r.port}`)
        .join(','),
    };
  }

  /** Cuts every link from and to `replica`, open connections included. */
  partition(replica: string): void {
    this.cut.add(replica);
    for (const r of this.relays) if (this.isCut(r)) for (const s of r.sockets) s.destroy();
  }

  heal(): void {
    this.cut.clear();
  }

  get partitioned(): string[] {
    return [...this.cut];
  }

  async close(): Promise<void> {
    await Promise.all(
      this.relays.map((r) => {
        for (const s of r.sockets) s.destroy();
        return new Promise<void>((resolve) => r.server.close(() => resolve()));
      }),
    );
  }

  private isCut(r: Relay): boolean {
    return this.cut.has(r.from) || this.cut.has(r.to);
  }

  private async relay(from: string, to: string, port: number): Promise<Relay> {
    const sockets = new Set<net.Socket>();
    const track = (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    };
    const r: Relay = { from, to, port, sockets, server: net.createServer() };
    r.server.on('connection', (client) => {
      track(client);
      if (this.isCut(r)) return void client.destroy();
      const upstream = net.connect(this.ports.get(to)!, HOST);
      track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      r.server.once('error', reject);
      r.server.listen(port, HOST, () => resolve());
    });
    return r;
  }
}

/** The relays as a member of the topology: stopped with the cluster, shown in the status. */
export class PeerLinksMember {
  readonly name = 'peer-links';
  readonly kind = 'relay';
  readonly pid = null; // they run inside the runner itself
  readonly log = '-';
  private closed = false;

  constructor(
    private readonly links: PeerLinks,
    readonly port: number,
  ) {}

  get running(): boolean {
    return !this.closed;
  }
  async kill(): Promise<void> {
    await this.stop();
  }
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.links.close();
  }
  async restart(): Promise<void> {
    throw new Error(
      'the peer links live in the runner: use partition/heal, or restart the cluster',
    );
  }
}
