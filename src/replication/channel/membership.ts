import { readFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import { peerList, type PeerAddress } from './peers.js';

/**
 * Where a peer may be found: an address, and its name where the source knows it (a static list,
 * a members file). Under DNS the name is learned in the handshake, where the peer proves the
 * cluster secret (outbound-links.ts).
 */
export interface MemberAddress {
  host: string;
  port: number;
  name?: string;
}

export const addressKey = (m: { host: string; port: number }) =>
  m.host.includes(':') ? `[${m.host}]:${m.port}` : `${m.host}:${m.port}`;

/**
 * Who may be in the cluster, and when that changes. Tomcat's cloud membership in small: the peer
 * channel asks a source for member addresses and connects to each; a source may change its
 * answer at any time (a replica added or removed), and the channel follows without a restart.
 */
export interface Membership {
  readonly kind: MembershipKind;
  /**
   * Only the listed names are accepted (a static list). Otherwise any holder of the cluster
   * secret is, as the members change.
   */
  readonly fixedNames: string[] | null;
  /** Calls `update` with the current members now, and again whenever they change. */
  start(update: (members: MemberAddress[]) => void): Promise<void>;
  close(): void;
}

export const MEMBERSHIP_KINDS = ['static', 'file', 'dns'] as const;
export type MembershipKind = (typeof MEMBERSHIP_KINDS)[number];

type Log = (message: string, detail: Record<string, unknown>) => void;

const sameMembers = (a: MemberAddress[], b: MemberAddress[]) =>
  a.length === b.length &&
  a.every((m, i) => {
    const other = b[i];
    return other !== undefined && addressKey(m) === addressKey(other) && m.name === other.name;
  });

/** A source that polls: reads its members on an interval and reports only changes. */
abstract class Polled implements Membership {
  abstract readonly kind: MembershipKind;
  readonly fixedNames = null;
  private timer: NodeJS.Timeout | undefined;
  private last: MemberAddress[] | undefined;

  constructor(
    protected readonly intervalMs: number,
    protected readonly log: Log,
  ) {}

  /** The members now (sorted), or undefined when they cannot be read (the last answer stays). */
  protected abstract read(): Promise<MemberAddress[] | undefined>;

  async start(update: (members: MemberAddress[]) => void): Promise<void> {
    const poll = async () => {
      const members = await this.read();
      if (!members || (this.last && sameMembers(this.last, members))) return;
      const before = new Set((this.last ?? []).map(addressKey));
      const after = new Set(members.map(addressKey));
      this.log('peer members changed', {
        membership: this.kind,
        joined: [...after].filter((k) => !before.has(k)),
        left: [...before].filter((k) => !after.has(k)),
      });
      this.last = members;
      update(members);
    };
    await poll();
    this.timer = setInterval(() => void poll(), this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** REPLICATION_PEERS: the list every replica is started with; adding one means restarting all. */
export class StaticMembership implements Membership {
  readonly kind = 'static';
  readonly fixedNames: string[];

  constructor(private readonly peers: PeerAddress[]) {
    this.fixedNames = peers.map((p) => p.name);
  }

  async start(update: (members: MemberAddress[]) => void): Promise<void> {
    update(this.peers.map((p) => ({ ...p })));
  }

  close(): void {}
}

/**
 * A file of `name=host:port` lines (one per member; `#` comments; this replica's own line is
 * skipped), re-read on an interval: what the native runner writes for each replica when it scales
 * (each replica its own file, since natively every peer link may run through a relay of its own).
 */
export class FileMembership extends Polled {
  readonly kind = 'file';
  private complained = false;

  constructor(
    private readonly path: string,
    private readonly self: string,
    intervalMs: number,
    log: Log,
  ) {
    super(intervalMs, log);
  }

  protected async read(): Promise<MemberAddress[] | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if (!this.complained)
        this.log('peer members file unreadable', { path: this.path, error: String(err) });
      this.complained = true;
      return undefined;
    }
    this.complained = false;
    const items = text
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean)
      .join(',');
    const parsed = peerList.safeParse(items);
    if (!parsed.success) {
      this.log('peer members file refused', {
        path: this.path,
        error: parsed.error.issues[0]?.message,
      });
      return undefined;
    }
    return parsed.data
      .filter((p) => p.name !== this.self)
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

/**
 * Every address behind one DNS name, each on the same peer port, re-resolved on an interval:
 * Tomcat's DNSMembershipProvider over a Kubernetes headless Service, and what Docker's embedded
 * DNS answers for a compose network alias shared by every replica. Names are learned in the
 * handshake. A name that does not exist (no replica left) is an empty cluster; a failed lookup
 * (a timeout) keeps the last answer rather than dropping every peer.
 */
export class DnsMembership extends Polled {
  readonly kind = 'dns';
  private readonly resolver: Resolver;

  constructor(
    private readonly name: string,
    private readonly port: number,
    server: string | undefined,
    intervalMs: number,
    log: Log,
  ) {
    super(intervalMs, log);
    this.resolver = new Resolver({ timeout: Math.max(200, Math.floor(intervalMs / 2)), tries: 2 });
    if (server) this.resolver.setServers([server]);
  }

  protected async read(): Promise<MemberAddress[] | undefined> {
    try {
      const addresses = await this.resolver.resolve4(this.name);
      return [...new Set(addresses)].sort().map((host) => ({ host, port: this.port }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
      this.log('peer members lookup failed', { name: this.name, error: String(err) });
      return undefined;
    }
  }
}
