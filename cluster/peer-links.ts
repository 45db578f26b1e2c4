/**
 * The peer channel's network, natively: every replica listens on its own peer port, and reaches
 * each peer through a relay of its own that the runner owns (one per ordered pair). A relay
 * forwards bytes and nothing else; `partition app-2` closes every relay from and to app-2 (open
 * connections included) and refuses new ones until `heal` — a network cut the replicas cannot
 * tell from a real one. The relays into a replica listen while it runs (its member opens and
 * closes them, on the same ports every time); a SIGKILL leaves them, as a crash leaves a network.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { freePort } from './process/ports.js';

interface Relay {
  from: string;
  to: string;
  port: number;
  server: net.Server;
  sockets: Set<net.Socket>;
}

const HOST = '127.0.0.1';

/**
 * How the replicas reach each other: through relays of this process on loopback (default), on
 * loopback directly (`relays: false`), or on a network of their own (the network mode), where
 * each listens on `bind` and is reached at `hostOf(name)`; that network's rules cut links there.
 */
export type PeerAddressing =
  { relays?: boolean } | { bind: string; hostOf(replica: string): string };

export class PeerLinks {
  /** Generated per cluster: the replicas sign every peer frame with it. */
  readonly secret = randomBytes(32).toString('base64url');
  private readonly cut = new Set<string>();

  private constructor(
    private readonly ports: Map<string, number>,
    private readonly relays: Relay[],
    private readonly relayed: boolean,
    private readonly membersDir: string,
    private readonly addressing: PeerAddressing,
  ) {}

  /**
   * `relays: false` connects the replicas to each other directly: nothing to partition, but no
   * hop through this process either (the benchmark's, whose event loop is busy with the load).
   * Each replica finds its peers in a file of its own in `membersDir` (REPLICATION_MEMBERSHIP=file),
   * written here: the addresses it reaches each peer at (its relays) differ from every other's.
   */
  static async open(
    replicas: readonly string[],
    membersDir: string,
    addressing: PeerAddressing = {},
  ): Promise<PeerLinks> {
    const ports = new Map<string, number>();
    for (const name of replicas) ports.set(name, await freePort());
    const relays = 'relays' in addressing ? addressing.relays !== false : !('bind' in addressing);
    const links = new PeerLinks(ports, [], relays, membersDir, addressing);
    if (relays)
      for (const from of replicas)
        for (const to of replicas)
          if (from !== to) links.relays.push(links.relay(from, to, await freePort()));
    await links.writeMembers();
    return links;
  }

  /** REPLICATION_* for one replica: its own port, and the file that lists its peers. */
  envFor(replica: string): Record<string, string> {
    return {
      REPLICATION_PORT: String(this.ports.get(replica)),
      REPLICATION_HOST: 'bind' in this.addressing ? this.addressing.bind : HOST,
      REPLICATION_SECRET: this.secret,
      REPLICATION_MEMBERSHIP: 'file',
      REPLICATION_MEMBERS_FILE: this.membersFile(replica),
    };
  }

  /** `name=host:port` of each peer as `replica` reaches it: its relay, or the peer's own port. */
  membersOf(replica: string): string[] {
    const hostOf = (peer: string) =>
      'hostOf' in this.addressing ? this.addressing.hostOf(peer) : HOST;
    return [...this.ports.keys()]
      .filter((peer) => peer !== replica)
      .map((peer) => `${peer}=${hostOf(peer)}:${this.portTo(replica, peer)}`);
  }

  private membersFile(replica: string): string {
    return join(this.membersDir, `${replica}.peers`);
  }

  /** Every replica's members file, replaced whole (a reader never sees half of one). */
  private async writeMembers(): Promise<void> {
    await mkdir(this.membersDir, { recursive: true });
    for (const replica of this.ports.keys()) {
      const file = this.membersFile(replica);
      const text = `# ${replica}'s peers, written by the runner\n${this.membersOf(replica).join('\n')}\n`;
      await writeFile(`${file}.tmp`, text);
      await rename(`${file}.tmp`, file);
    }
  }

  /** Replicas that join (scale-out): a peer port each, relays to and from every other, files. */
  async add(replicas: readonly string[]): Promise<void> {
    const added = replicas.filter((r) => !this.ports.has(r));
    for (const name of added) {
      const existing = [...this.ports.keys()];
      this.ports.set(name, await freePort());
      if (this.relayed)
        for (const other of existing) {
          this.relays.push(this.relay(name, other, await freePort()));
          this.relays.push(this.relay(other, name, await freePort()));
        }
    }
    // The relays into the others listen already: open the new ones from the new replica to them.
    for (const other of this.ports.keys())
      if (!added.includes(other)) await this.listenFrom(added, other);
    await this.writeMembers();
  }

  /** A replica that left (scale-in, after it stopped): its relays closed, everyone's file without it. */
  async remove(replica: string): Promise<void> {
    const gone = this.relays.filter((r) => r.from === replica || r.to === replica);
    await Promise.all(gone.map(closeRelay));
    this.relays.splice(0, this.relays.length, ...this.relays.filter((r) => !gone.includes(r)));
    this.ports.delete(replica);
    this.cut.delete(replica);
    await rm(this.membersFile(replica), { force: true });
    await this.writeMembers();
  }

  /** Cuts every link from and to `replica`, open connections included. */
  partition(replica: string): void {
    if (!this.relayed)
      throw new Error(
        'bind' in this.addressing
          ? 'the network mode cuts links with its own faults (Cluster.faults)'
          : 'this cluster was started without peer relays',
      );
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
    return relay?.port ?? this.peerPort(to);
  }

  /** A replica's own peer port. */
  private peerPort(replica: string): number {
    const port = this.ports.get(replica);
    if (port === undefined) throw new Error(`${replica} has no peer port: it is not a member`);
    return port;
  }

  private isCut(r: Relay): boolean {
    return this.cut.has(r.from) || this.cut.has(r.to);
  }

  /** Opens the relays into `replica` (those already open stay). */
  async listenInto(replica: string): Promise<void> {
    for (const r of this.relays) if (r.to === replica && !r.server.listening) await listen(r);
  }

  /** Opens the relays from `replicas` into `to`, which runs already. */
  private async listenFrom(replicas: readonly string[], to: string): Promise<void> {
    for (const r of this.relays)
      if (r.to === to && replicas.includes(r.from) && !r.server.listening) await listen(r);
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
      const upstream = net.connect(this.peerPort(to), HOST);
      track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    return r;
  }
}

function listen(r: Relay): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    r.server.once('error', reject);
    r.server.listen(r.port, HOST, () => {
      r.server.off('error', reject);
      resolve();
    });
  });
}

function closeRelay(r: Relay): Promise<void> {
  for (const s of r.sockets) s.destroy();
  if (!r.server.listening) return Promise.resolve();
  return new Promise((resolve) =>
    r.server.close(() => {
      resolve();
    }),
  );
}
