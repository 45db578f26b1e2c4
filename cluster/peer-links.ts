/**
 * The peer channel's network, natively: every replica listens on its own peer port, and reaches
 * each peer through a relay of its own that the runner owns (one per ordered pair). A relay
 * forwards bytes and nothing else; `partition app-2` closes every relay from and to app-2 (open
 * connections included) and refuses new ones until `heal` — a network cut the replicas cannot
 * tell from a real one. The relays into a replica listen while it runs (its member opens and
 * closes them, on the same ports every time); a SIGKILL leaves them, as a crash leaves a network.
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
    private readonly relayed: boolean,
  ) {}

  /**
   * `relays: false` connects the replicas to each other directly: nothing to partition, but no
   * hop through this process either (the benchmark's, whose event loop is busy with the load).
   */
  static async open(replicas: readonly string[], relays = true): Promise<PeerLinks> {
    const ports = new Map<string, number>();
    for (const name of replicas) ports.set(name, await freePort());
    const links = new PeerLinks(ports, [], relays);
    if (relays)
      for (const from of replicas)
        for (const to of replicas)
          if (from !== to) links.relays.push(links.relay(from, to, await freePort()));
    return links;
  }

  /** REPLICATION_* for one replica: its own port, and its relay to each peer. */
  envFor(replica: string): Record<string, string> {
    return {
      REPLICATION_PORT: String(this.ports.get(replica)),
      REPLICATION_HOST: HOST,
      REPLICATION_SECRET: this.secret,
      REPLICATION_PEERS: [...this.ports.keys()]
        .filter((peer) => peer !== replica)
        .map((peer) => `${peer}=${HOST}:${this.portTo(replica, peer)}`)
        .join(','),
    };
  }

  /** Cuts every link from and to `replica`, open connections included. */
  partition(replica: string): void {
    if (!this.relayed) throw new Error('this cluster was started without peer relays');
    this.cut.add(replica);
    for (const r of this.relays) if (this.isCut(r)) for (const s of r.sockets) s.destroy();
  }

  heal(): void {
    this.cut.clear();
  }

  get partitioned(): string[] {
    return [...this.cut];
  }

  /** Where `from` reaches `to`: its relay, or the peer's own port. */
  private portTo(from: string, to: string): number {
    const relay = this.relays.find((r) => r.from === from && r.to === to);
    return relay?.port ?? this.ports.get(to)!;
  }

  private isCut(r: Relay): boolean {
    return this.cut.has(r.from) || this.cut.has(r.to);
  }

  /** Opens the relays into `replica` (those already open stay). */
  async listenInto(replica: string): Promise<void> {
    for (const r of this.relays) {
      if (r.to !== replica || r.server.listening) continue;
      await new Promise<void>((resolve, reject) => {
        r.server.once('error', reject);
        r.server.listen(r.port, HOST, () => {
          r.server.off('error', reject);
          resolve();
        });
      });
    }
  }

  /** Closes the relays into `replica`, and their connections. */
  async closeInto(replica: string): Promise<void> {
    await Promise.all(this.relays.filter((r) => r.to === replica).map(closeRelay));
  }

  private relay(from: string, to: string, port: number): Relay {
    const sockets = new Set<net.Socket>();
    const track = (s: net.Socket) => {
      // No Nagle: a relay must not hold back a small frame for an ACK (up to 40 ms of lag).
      s.setNoDelay(true);
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
    return r;
  }
}

function closeRelay(r: Relay): Promise<void> {
  for (const s of r.sockets) s.destroy();
  if (!r.server.listening) return Promise.resolve();
  return new Promise((resolve) => r.server.close(() => resolve()));
}
