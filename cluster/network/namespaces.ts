/**
 * A private network for one cluster: every member in a network namespace of its own, joined by a
 * bridge that lives in a namespace of its own too. Faults are kernel rules inside the members'
 * namespaces (iptables: DROP for a partition, the `statistic` match for random loss), so the
 * addresses a member sees are the real ones: `ip_hash` and the addresses Redis announces work as
 * on a real network. Root only: namespaces, veth pairs and iptables need CAP_NET_ADMIN.
 *
 * The root namespace has no address on the network and no route to it: only an `unreachable`
 * route for the cluster's /24, so a process there that tries one of these addresses by mistake
 * fails at once instead of sending the packet to the machine's default gateway. The runner
 * reaches servers inside through port forwards over Unix sockets (forward.ts).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DelayProcess, type LinkDelay } from './delay.js';
import { NamespaceAgent, PortForward } from './forward.js';
import { NetworkModeError } from './errors.js';

const run = promisify(execFile);

/** Our private range: 10.213.<network>.0/24, one /24 per network-mode cluster. */
const RANGE = '10.213';
/** Addresses .2 to .251 of the /24. */
const MAX_MEMBERS = 250;
/** The chain each member's INPUT and OUTPUT jump to; a heal flushes it. */
const CHAIN = 'SL-FAULTS';

/** What a namespace network's record file says: enough to remove it after a crash. */
interface NetworkRecord {
  index: number;
  /** A random name given to the bridge, which a later network with the same index lacks. */
  token: string;
}

/** Runs `ip` or `iptables`; a failure names the command and what it printed. */
async function sh(program: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(program, args);
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new NetworkModeError(`${program} ${args.join(' ')}: ${stderr || String(error)}`);
  }
}

export function assertNetworkModeAllowed(uid = process.getuid?.()): void {
  if (uid !== 0)
    throw new NetworkModeError(
      'the network mode needs root (network namespaces, veth pairs and iptables need CAP_NET_ADMIN)',
    );
}

/** The namespaces that exist now. */
async function namespaces(): Promise<Set<string>> {
  const out = await sh('ip', ['netns', 'list']);
  return new Set(
    out
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter(Boolean),
  );
}

/** The token of the network at `index` (its bridge's alias), if there is one. */
async function bridgeToken(index: number): Promise<string | undefined> {
  const out = await sh('ip', ['-n', bridgeOf(index), '-o', 'link', 'show', 'br0']).catch(() => '');
  return /\balias (\S+)/.exec(out)?.[1];
}

const bridgeOf = (index: number) => `sl${index}-bridge`;
const memberNs = (index: number, i: number) => `sl${index}-m${i}`;
/** Every member namespace of the network at `index`, whoever made it. */
const isMemberOf = (index: number, ns: string) => new RegExp(`^sl${index}-m\\d+$`).test(ns);

export class NamespaceNetwork {
  private readonly delays = new Map<string, Promise<DelayProcess>>();
  private destroyed = false;
  private readonly agents = new Map<string, Promise<NamespaceAgent>>();
  /** Open forwards by member and port: a member started again (or re-added) reuses its own. */
  private readonly forwards = new Map<string, PortForward>();
  /** Every member given an address, in order: its position is its address and namespace. */
  private readonly named: string[] = [];
  /** The members whose namespace is built (or being built). */
  private readonly joined = new Map<string, Promise<void>>();

  private constructor(
    /** Which /24 of the range this network has: two clusters at once get two. */
    readonly index: number,
    private readonly recordFile: string,
    /** The bridge's alias: what tells this network from a later one with the same index. */
    private readonly token: string,
    /** What every member's sends wait, from its join (delay() changes one member's). */
    private readonly linkDelay?: LinkDelay,
  ) {}

  /**
   * Builds the network with `members` (more may join later), first removing what a crashed run
   * left (named in `recordFile`, a file in the cluster's work dir). With `linkDelay`, every
   * member's sends wait that long from its join.
   */
  static async create(
    members: readonly string[],
    recordFile: string,
    o: { linkDelay?: LinkDelay } = {},
  ): Promise<NamespaceNetwork> {
    assertNetworkModeAllowed();
    if (new Set(members).size !== members.length || members.length > MAX_MEMBERS)
      throw new NetworkModeError(`network members must be distinct, at most ${MAX_MEMBERS}`);
    await NamespaceNetwork.removeLeftover(recordFile);
    const taken = await namespaces();
    for (let index = 1; index <= 250; index++) {
      if (taken.has(bridgeOf(index))) continue;
      // Creating the bridge's namespace claims the index: another cluster starting at the same
      // moment fails here ("File exists") and tries the next one.
      const claim = await sh('ip', ['netns', 'add', bridgeOf(index)]).catch((err: unknown) => err);
      if (claim instanceof NetworkModeError) {
        if (/File exists/.test(claim.message)) continue;
        throw claim;
      }
      const record: NetworkRecord = { index, token: randomUUID() };
      // Recorded first: a crash from here on is cleaned up by the next start.
      await writeFile(recordFile, JSON.stringify(record) + '\n');
      const network = new NamespaceNetwork(index, recordFile, record.token, o.linkDelay);
      try {
        await sh('ip', ['-n', bridgeOf(index), 'link', 'add', 'br0', 'type', 'bridge']);
        await sh('ip', ['-n', bridgeOf(index), 'link', 'set', 'br0', 'alias', record.token]);
        await sh('ip', ['-n', bridgeOf(index), 'link', 'set', 'br0', 'up']);
        await sh('ip', ['route', 'replace', 'unreachable', network.subnet]);
        for (const member of members) await network.join(member);
      } catch (error) {
        await network.destroy();
        throw error;
      }
      return network;
    }
    throw new NetworkModeError('no free network: 250 are in use');
  }

  /**
   * Removes the network a crashed run recorded in `recordFile`, if it is still that run's: a
   * later cluster may have the same index by now (its bridge is then another namespace).
   */
  static async removeLeftover(recordFile: string): Promise<void> {
    const text = await readFile(recordFile, 'utf8').catch(() => undefined);
    if (text === undefined) return;
    const record = JSON.parse(text) as NetworkRecord;
    const left = new NamespaceNetwork(record.index, recordFile, record.token);
    await left.destroy();
    await rm(recordFile, { force: true });
  }

  get subnet(): string {
    return `${RANGE}.${this.index}.0/24`;
  }

  /** The members given an address so far, in order. */
  get members(): readonly string[] {
    return this.named;
  }

  /** The member's address: .2 onwards, in the order given. */
  address(member: string): string {
    return `${RANGE}.${this.index}.${this.position(member) + 2}`;
  }

  /**
   * The address `member` will have, given now if it has none (its namespace is built by join):
   * what a server's description names its peers by before any of them starts.
   */
  claim(member: string): string {
    if (!this.named.includes(member)) {
      if (this.named.length >= MAX_MEMBERS)
        throw new NetworkModeError(`a network has at most ${MAX_MEMBERS} members`);
      this.named.push(member);
    }
    return this.address(member);
  }

  /** Builds `member`'s namespace on the bridge, once (claiming its address if need be). */
  join(member: string): Promise<void> {
    this.claim(member);
    let joined = this.joined.get(member);
    if (!joined) {
      joined = this.build(member);
      this.joined.set(member, joined);
      joined.catch(() => this.joined.delete(member));
    }
    return joined;
  }

  namespace(member: string): string {
    return memberNs(this.index, this.position(member));
  }

  /** The command line that runs `command` inside the member's namespace. */
  wrap(member: string, command: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.namespace(member), ...command];
  }

  /**
   * Splits the members named in `sides` into groups that cannot reach each other (both ways); a
   * member in no side keeps every link. Adds to the faults already in place; heal() ends them all.
   */
  async partition(sides: ReadonlyArray<readonly string[]>): Promise<void> {
    await this.settled();
    const sideOf = new Map<string, number>();
    sides.forEach((side, i) => {
      for (const m of side) {
        if (sideOf.has(this.checked(m))) throw new NetworkModeError(`"${m}" is on two sides`);
        sideOf.set(m, i);
      }
    });
    for (const [a, sa] of sideOf)
      for (const [b, sb] of sideOf) if (sa !== sb) await this.drop(a, b, 'from-and-to');
  }

  /** One way: what `from` sends to `to` is lost; the other direction still works. */
  async cut(from: string, to: string): Promise<void> {
    await this.settled();
    await this.drop(this.checked(from), this.checked(to), 'to');
  }

  /**
   * Loses each packet `member` receives over the network (from `from`, or from anyone) with this
   * probability; what it sends, and its loopback, are untouched.
   */
  async lose(member: string, probability: number, from?: readonly string[]): Promise<void> {
    if (!(probability > 0 && probability <= 1))
      throw new NetworkModeError(`loss probability must be in (0, 1], not ${probability}`);
    await this.settled();
    const ns = this.namespace(this.checked(member));
    const sources = from?.map((m) => ['-s', this.address(this.checked(m))]) ?? [[]];
    for (const source of sources)
      await sh('ip', [
        ...['netns', 'exec', ns, 'iptables', '-w', '-A', CHAIN, '-i', 'eth0', ...source],
        ...[
          '-m',
          'statistic',
          '--mode',
          'random',
          '--probability',
          String(probability),
          '-j',
          'DROP',
        ],
      ]);
  }

  /**
   * Delays what `member` sends (to every other member) by `d`; { ms: 0, jitterMs: 0 } takes the
   * delay away. A link's round trip is the two members' delays together.
   */
  async delay(member: string, d: LinkDelay): Promise<void> {
    const running = this.delays.get(this.checked(member));
    if (running) {
      (await running).set(d);
      return;
    }
    const started = DelayProcess.start(this.namespace(member), d);
    this.delays.set(member, started);
    started.catch(() => this.delays.delete(member));
    await started;
  }

  /**
   * 127.0.0.1:`o.listen` (0: any free port) in the root namespace, carried to `port` of the
   * member (on its loopback, inside): how the runner and the clients reach a server in here.
   */
  async forward(
    member: string,
    port: number,
    o: { listen?: number; proxyProtocol?: boolean } = {},
  ): Promise<PortForward> {
    const key = `${member}:${port}:${o.listen ?? 0}:${o.proxyProtocol ? 'proxy' : 'plain'}`;
    const open = o.listen ? this.forwards.get(key) : undefined;
    if (open) return open;
    const agent = await this.agentOf(this.checked(member));
    const opened = await PortForward.open(agent, { listen: o.listen ?? 0, port, ...o });
    this.forwards.set(o.listen ? key : `${key}:${opened.port}`, opened);
    return opened;
  }

  /** Whether something listens on `port` in the member's namespace (a forward cannot tell). */
  async listens(member: string, port: number): Promise<boolean> {
    return (await this.agentOf(this.checked(member))).listens(port);
  }

  private agentOf(member: string): Promise<NamespaceAgent> {
    let agent = this.agents.get(member);
    if (!agent) {
      const ns = this.namespace(member);
      agent = NamespaceAgent.start(ns, join(dirname(this.recordFile), `${ns}.sock`));
      agent.catch(() => this.agents.delete(member));
      this.agents.set(member, agent);
    }
    return agent;
  }

  /** Ends every partition, cut and loss (delays stay: they are the network, not a fault). */
  async heal(): Promise<void> {
    await this.settled();
    for (const m of this.joined.keys())
      await sh('ip', ['netns', 'exec', this.namespace(m), 'iptables', '-w', '-F', CHAIN]);
  }

  /**
   * Removes the namespaces (their processes must have stopped), the bridge and the route; once,
   * and only while the bridge is still this network's (its index may be another's by now).
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const f of this.forwards.values()) await f.close();
    this.forwards.clear();
    for (const a of this.agents.values()) await (await a.catch(() => undefined))?.stop();
    this.agents.clear();
    for (const d of this.delays.values()) await (await d.catch(() => undefined))?.stop();
    this.delays.clear();
    const existing = await namespaces();
    // Another network's by now (a token that is not ours); one with none was ours, cut short
    // between its claim and its alias.
    const token = existing.has(bridgeOf(this.index)) ? await bridgeToken(this.index) : undefined;
    if (token !== undefined && token !== this.token) {
      await rm(this.recordFile, { force: true });
      return;
    }
    for (const ns of [...existing].filter((n) => isMemberOf(this.index, n)))
      await sh('ip', ['netns', 'delete', ns]);
    if (existing.has(bridgeOf(this.index)))
      await sh('ip', ['netns', 'delete', bridgeOf(this.index)]);
    await sh('ip', ['route', 'del', 'unreachable', this.subnet]).catch(() => undefined);
    // Last: while the record is there, a failure above is cleaned up by the next start.
    await rm(this.recordFile, { force: true });
  }

  /** One member's namespace: a veth pair to the bridge, its address, the fault chain. */
  private async build(member: string): Promise<void> {
    if (this.destroyed) throw new NetworkModeError('the network has been destroyed');
    const bridge = bridgeOf(this.index);
    const i = this.position(member);
    const ns = memberNs(this.index, i);
    const port = `v${this.index}m${i}`; // the bridge's end; interface names have 15 characters
    // A member namespace of an earlier network with this index that lost its bridge first.
    await sh('ip', ['netns', 'delete', ns]).catch(() => undefined);
    await sh('ip', ['netns', 'add', ns]);
    await sh('ip', [
      ...['link', 'add', port, 'netns', bridge, 'type', 'veth'],
      ...['peer', 'name', 'eth0', 'netns', ns],
    ]);
    await sh('ip', ['-n', bridge, 'link', 'set', port, 'master', 'br0', 'up']);
    await sh('ip', ['-n', ns, 'addr', 'add', `${this.address(member)}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-N', CHAIN]);
    await sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-A', 'INPUT', '-j', CHAIN]);
    await sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-A', 'OUTPUT', '-j', CHAIN]);
    // What survives the faults goes through the member's delay program, if it has one.
    await sh('ip', [
      ...['netns', 'exec', ns, 'iptables', '-w', '-A', 'OUTPUT', '-d', this.subnet],
      ...['-j', 'NFQUEUE', '--queue-num', '0', '--queue-bypass'],
    ]);
    const d = this.linkDelay;
    if (d && (d.ms > 0 || d.jitterMs > 0)) await this.delay(member, d);
  }

  /** Drops what `a` sends to `b` (`to`), and with `from-and-to` also what it gets from `b`. */
  private async drop(a: string, b: string, how: 'to' | 'from-and-to'): Promise<void> {
    const ns = this.namespace(a);
    const peer = this.address(b);
    await sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-A', CHAIN, '-d', peer, '-j', 'DROP']);
    if (how === 'from-and-to')
      await sh('ip', [
        'netns',
        'exec',
        ns,
        'iptables',
        '-w',
        '-A',
        CHAIN,
        '-s',
        peer,
        '-j',
        'DROP',
      ]);
  }

  private position(member: string): number {
    const i = this.named.indexOf(member);
    if (i < 0) throw new NetworkModeError(`no member "${member}" in this network`);
    return i;
  }

  /** Waits for the joins under way (a scale's new members): a fault then finds their chains. */
  private async settled(): Promise<void> {
    await Promise.allSettled(this.joined.values());
  }

  /** A member whose namespace is built: faults and programs need one. */
  private checked(member: string): string {
    this.position(member);
    if (!this.joined.has(member)) throw new NetworkModeError(`"${member}" has not joined yet`);
    return member;
  }
}
