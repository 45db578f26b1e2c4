import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LINK_DELAY_DEFAULT, type LinkDelay } from './network/delay.js';
import { NetworkModeError } from './network/errors.js';
import { assertNetworkModeAllowed, NamespaceNetwork } from './network/namespaces.js';
import { errorMessage, pollUntil, sleep } from './process/poll.js';
import { reservePort } from './process/ports.js';
import type { ClusterOptions } from './options.js';
import { backendOf, profiles, replicaNames, type Profile } from './profiles.js';
import { nativePlace, NativeServer, startDescribed } from './render/native.js';
import { isServer, type DescribeContext } from './services/description.js';
import { FAIL_TIMEOUT_S } from './routing/index.js';
import { pluginsOf } from './services/index.js';
import type {
  Entry,
  FailoverPair,
  Member,
  PeerNetwork,
  StartContext,
  StoreGrowth,
  StoreObserver,
} from './services/service.js';
import { describeProcesses, openWorkDir } from './work-dir.js';

export interface MemberStatus {
  name: string;
  /** The plugin that started it (cluster/services/). */
  service: string;
  kind: string;
  port: number;
  pid: number | null;
  running: boolean;
  log: string;
  /** A replica's Node version (the runner's own binary, which starts it). */
  runtime?: string;
}

/**
 * The network mode's faults (ClusterOptions.network 'netns'), by member name: kernel rules in the
 * members' namespaces, so a member sees a real network fail, whichever program it runs. Each adds
 * to those in place; heal() ends them all.
 */
export interface NetworkFaults {
  /** The members named cannot reach those on another side (both ways); others keep every link. */
  partition(sides: ReadonlyArray<readonly string[]>): Promise<void>;
  /** One way: what `from` sends to `to` is lost. */
  cut(from: string, to: string): Promise<void>;
  /** Each packet `member` receives from another member is lost with this probability. */
  lose(member: string, probability: number): Promise<void>;
  /** What `member` sends waits this long (one way), until heal(). */
  delay(member: string, d: LinkDelay): Promise<void>;
  /** Ends every partition, cut and loss, and gives slowed members the cluster's delay again. */
  heal(): Promise<void>;
  /** A member's address on the cluster's network. */
  address(member: string): string;
}

/** The most replicas a cluster runs (ports, relays per pair, a 2-core machine). */
export const MAX_REPLICAS = 9;

export interface Cluster extends Entry {
  readonly profile: Profile;
  readonly workDir: string;
  readonly replicas: readonly string[];
  /** What the services handed the replicas: DATABASE_URL, and the store's (REDIS_URL, ...). */
  readonly env: Readonly<Record<string, string>>;
  /** The URL of one replica, bypassing nginx. */
  replicaUrl(name: string): string;
  /** SIGKILL, like a crash. */
  kill(member: string): Promise<void>;
  /** Graceful: SIGTERM, in-flight requests finish. */
  stopMember(member: string): Promise<void>;
  /**
   * Starts a member again on its port and waits until it is ready. For a replica, `env` is
   * merged into its environment first (e.g. a new SESSION_SECRET list while rotating secrets).
   */
  restart(member: string, env?: Record<string, string>): Promise<void>;
  /**
   * Restarts every replica in turn, without a failed request: nginx stops sending it clients
   * first, SIGTERM drains it, it starts, links to its peers, and nginx takes it back before the
   * next one goes. `env` as in restart.
   */
  rollingRestart(env?: Record<string, string>): Promise<void>;
  /**
   * Starts a killed or stopped replica again and waits until nginx sends it requests again (it
   * skips a replica for its fail_timeout after a failed connect).
   */
  rejoin(replica: string): Promise<void>;
  /**
   * Cuts a replica's peer links (profiles with a peer channel): it still serves clients, but
   * neither sends to nor hears from its peers until heal(). In the network mode, a partition
   * of the replica from the other replicas.
   */
  partition(replica: string): Promise<void>;
  heal(): Promise<void>;
  /** The network mode's faults; undefined on loopback. */
  readonly faults?: NetworkFaults;
  /** The peer-channel keys (REPLICATION_*) a replica was given; empty without a peer channel. */
  peerEnv(replica: string): Record<string, string>;
  status(): MemberStatus[];
  /** The session store's servers (members of its backend's services); none for in-memory ones. */
  storeMembers(): string[];
  /** Read-only looks into the store servers (those that offer one), for the benchmark. */
  observeStores(): Promise<StoreObserver[]>;
  /**
   * For stores that fail over (redis-ha, redis-cluster): the member whose crash makes the store
   * fail over now (the current primary, a master) and the replica that takes over; undefined for
   * the others.
   */
  storeFailover(): Promise<FailoverPair | undefined>;
  /**
   * Crashes the store's current primary (SIGKILL) and resolves once another member serves in its
   * place: what `storeFailover` names. Rejects for a store that does not fail over.
   */
  failStore(): Promise<{ killed: string; promoted: string }>;
  /**
   * Scales the replicas to `count` while the cluster serves (1..MAX_REPLICAS). Out: the new
   * replicas start and are ready (state transfer done where the profile has one), then nginx
   * takes them in with a graceful reload. In: nginx lets the leaving replicas go first (its old
   * workers finish what is in flight), then each gets SIGTERM (it finishes its own requests) and
   * its peers are told. Resolves with what happened, one line per step. One scale at a time.
   */
  scale(count: number): Promise<string[]>;
  /**
   * Grows the session store to `count` shards while the cluster serves, where the store can
   * (memcached nodes, Redis Cluster masters): the new servers start and join the store (Redis
   * Cluster moves slots to them live), and where the replicas' settings name every server, the
   * replicas take the new list by a lossless rolling restart. Resolves with what happened. One
   * scale (of either kind) at a time.
   */
  scaleStore(count: number): Promise<string[]>;
  /** The store's shards now, where it can grow (scaleStore); undefined elsewhere. */
  storeShards(): number | undefined;
  /** Stops everything, in reverse order of start. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts the whole topology for a profile, one service plugin after the other (see
 * services/index.ts), and resolves when nginx serves ready replicas.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const profile: Profile = profiles[options.profile];
  const progress = options.onProgress ?? (() => undefined);
  const workDir = options.workDir;
  // A network-mode run of this work dir that was killed: its namespaces go first (--fresh would
  // discard the record that names them).
  await removeLeftoverNetwork(workDir);
  const state = await openWorkDir(workDir, { fresh: options.fresh });
  if (state.swept.length)
    progress(
      `stopped what a killed runner had left running in ${workDir}: ${describeProcesses(state.swept)}`,
    );
  const logDir = join(workDir, 'logs');
  await mkdir(logDir, { recursive: true });
  // nginx binds last: no server started before it may be handed its ports.
  for (const port of [options.port, options.tlsPort]) if (port) reservePort(port);

  const network = await openNetwork(options, profile, workDir).catch(async (error: unknown) => {
    await state.release();
    throw error;
  });
  if (network)
    progress(
      `network mode: each server in a namespace of its own on ${network.subnet}; the runner reaches them on 127.0.0.1 through forwards`,
    );
  const place = nativePlace({
    workDir,
    logDir,
    ledger: state.ledger,
    ports: state.ports,
    options,
    network,
  });
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const ctx: StartContext = { profile, options, place, readyTimeoutMs, progress };
  /** What the plugins so far hand the replicas, and the servers they wait for. */
  const env: Record<string, string> = {};
  const servers: string[] = [];
  /** Every member with the plugin that started it, in start order. */
  const members: Array<{ member: NativeServer; service: string }> = [];
  /** What each plugin was described with: a scale describes the app and nginx again. */
  const contexts = new Map<string, DescribeContext>();
  const observers: Array<() => Promise<StoreObserver>> = [];
  let failover: (() => Promise<FailoverPair>) | undefined;
  let growth: { plugin: string; grow: StoreGrowth } | undefined;
  let entry: Entry | undefined;
  let peerNetwork: PeerNetwork | undefined;
  const stopAll = async () => {
    for (const { member } of [...members].reverse()) await member.stop().catch(() => undefined);
    await network?.destroy().catch((error: unknown) => {
      progress(`removing the network failed: ${errorMessage(error)}`);
    });
    await state.release();
  };

  try {
    for (const plugin of pluginsOf(profile)) {
      const t0 = Date.now();
      progress(`${plugin.name} …`);
      const context: DescribeContext = {
        profile,
        env: { ...env },
        servers: [...servers],
        options,
      };
      contexts.set(plugin.name, context);
      const described = await plugin.describe(place, context);
      await plugin.restore?.(place);
      const running = await startDescribed(described, place, readyTimeoutMs);
      members.push(...[...running.values()].map((member) => ({ member, service: plugin.name })));
      const started = (await plugin.started?.(running, ctx)) ?? {};
      Object.assign(env, described.env);
      servers.push(...described.units.map((u) => u.service));
      if (started.observe) observers.push(started.observe);
      failover = started.failover ?? failover;
      if (started.grow) growth = { plugin: plugin.name, grow: started.grow };
      entry = started.entry ?? entry;
      peerNetwork = started.peerNetwork ?? peerNetwork;
      const names = [...running.keys()].join(', ');
      const what = names === plugin.name ? names : `${plugin.name}: ${names}`;
      progress(`${what} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    if (!entry) throw new Error('no plugin of the profile serves clients (nginx is missing)');
  } catch (error) {
    progress(
      `start failed, stopping what was started: ${errorMessage(error).split('\n', 1)[0] ?? ''}`,
    );
    await stopAll();
    throw error;
  }

  const find = (name: string): NativeServer => {
    const m = members.find(({ member }) => member.name === name)?.member;
    if (!m)
      throw new Error(
        `no member "${name}"; members: ${members.map((x) => x.member.name).join(', ')}`,
      );
    return m;
  };
  const replicasNow = () => members.map((m) => m.member).filter((m) => m.kind === 'replica');
  const pluginNamed = (name: string) => {
    const plugin = pluginsOf(profile).find((p) => p.name === name);
    if (!plugin) throw new Error(`profile "${profile.name}" has no ${name} plugin`);
    return plugin;
  };
  const contextOf = (name: string) => {
    const context = contexts.get(name);
    if (!context) throw new Error(`the ${name} plugin has no describe context: it never started`);
    return context;
  };

  /** nginx rendered again for the replicas the place now has, and reloaded (no restart). */
  const reloadNginx = async () => {
    const described = await pluginNamed('nginx').describe(place, contextOf('nginx'));
    const next = described.units.filter(isServer).find((u) => u.name === 'nginx');
    if (!next) throw new Error('the nginx plugin described no nginx');
    await find('nginx').reload(next);
    // The new workers take new connections at once; give the old ones a moment to wind down.
    await sleep(300);
  };

  /** What a replica holds itself (GET /internal/sessions): what ends with it in memory rows. */
  const heldBy = async (replica: NativeServer): Promise<number | undefined> => {
    const res = await fetch(`http://127.0.0.1:${replica.port}/internal/sessions`, {
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    if (!res?.ok) return undefined;
    const { held } = (await res.json()) as { held: Record<string, number> | null };
    return held ? Object.values(held).reduce((a, b) => a + b, 0) : undefined;
  };
  const inReplicaMemoryOnly = () => {
    const backend = backendOf(profile);
    return backend.services.length === 0 && !backend.peerChannel && !backend.inCookie;
  };

  /** What a replica's readiness says of its peer channel (asked directly, not through nginx). */
  const channelOf = async (replica: NativeServer) => {
    const res = await fetch(`http://127.0.0.1:${replica.port}/health/ready`, {
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    if (!res?.ok) return undefined;
    const body = (await res.json()) as {
      checks?: { sessionStore?: { stats?: { livePeers?: string[]; digest?: string } } };
    };
    return body.checks?.sessionStore?.stats;
  };

  /**
   * Before nginx sends the newcomers clients: every replica has them as live peers (the others
   * find them in their members files within a poll), so a session made anywhere reaches them;
   * where every replica holds every session, also until their digests agree (anti-entropy has
   * brought over what was made while the links came up), or a few seconds.
   */
  const waitLinked = async () => {
    const backend = backendOf(profile);
    if (!backend.peerChannel) return;
    const everyOther = (name: string) =>
      replicasNow()
        .map((r) => r.name)
        .filter((n) => n !== name);
    const linked = await pollUntil(
      async () => {
        const seen = await Promise.all(replicasNow().map(channelOf));
        return replicasNow().every((r, i) =>
          everyOther(r.name).every((n) => seen[i]?.livePeers?.includes(n)),
        );
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 200 },
    );
    if (!linked.ok) throw new Error('scale: the replicas did not all see each other in time');
    if (backend.copies === 'every-replica')
      await pollUntil(
        async () => {
          const digests = (await Promise.all(replicasNow().map(channelOf))).map((s) => s?.digest);
          return digests.every((d) => d !== undefined && d === digests[0]);
        },
        { timeoutMs: 3000, intervalMs: 200 },
      );
  };

  let stopping: Promise<void> | undefined;
  /** What changes the members now (a scale, a store scale, a roll): one at a time. */
  let busy: string | undefined;
  const mustBeIdle = (what: string) => {
    if (busy) throw new Error(`${what}: ${busy} is under way; wait until it is done`);
    if (stopping) throw new Error(`${what}: the cluster is stopping`);
  };
  const scale = async (count: number): Promise<string[]> => {
    if (!Number.isInteger(count) || count < 1 || count > MAX_REPLICAS)
      throw new Error(
        `scale: the replica count must be a whole number from 1 to ${MAX_REPLICAS}, not "${count}"`,
      );
    mustBeIdle('scale');
    busy = `a scale to ${count} replicas`;
    const said: string[] = [];
    const say = (line: string) => {
      said.push(line);
      progress(`scale: ${line}`);
    };
    try {
      const current = replicasNow().map((r) => r.name);
      const target = replicaNames(count);
      const added = target.filter((n) => !current.includes(n));
      const removed = current.filter((n) => !target.includes(n)).reverse();
      if (!added.length && !removed.length) {
        say(`already ${count} replica(s): nothing to do`);
        return said;
      }
      const net = await place.peerNetwork();
      if (added.length) {
        const t0 = Date.now();
        say(`starting ${added.join(', ')} …`);
        place.setReplicas([...current, ...added]);
        await net?.add(added);
        const described = await pluginNamed('app').describe(place, contextOf('app'));
        const units = described.units.filter((u) => isServer(u) && added.includes(u.name));
        const started = await startDescribed({ units, env: {} }, place, readyTimeoutMs);
        const last = members.findLastIndex(({ member }) => member.kind === 'replica');
        members.splice(
          last + 1,
          0,
          ...[...started.values()].map((member) => ({ member, service: 'app' })),
        );
        await waitLinked();
        say(
          `${added.join(', ')} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; nginx takes them in`,
        );
      }
      place.setReplicas(target);
      await reloadNginx();
      for (const name of removed) {
        const replica = find(name);
        const held = inReplicaMemoryOnly() && replica.running ? await heldBy(replica) : undefined;
        say(`${name} left nginx; draining (SIGTERM: it finishes what is in flight) …`);
        await replica.stop();
        members.splice(
          members.findIndex(({ member }) => member === replica),
          1,
        );
        await net?.remove(name);
        say(
          held === undefined
            ? `${name} stopped`
            : `${name} stopped: the ${held} session(s) in its memory ended with it`,
        );
      }
      say(`${count} replica(s): ${target.join(', ')}`);
      return said;
    } finally {
      busy = undefined;
    }
  };
  /**
   * Each replica in turn is drained like a scale-in (nginx keeps it in its list as `down`, so
   * no hash moves anyone else; SIGTERM lets it finish what is in flight and hand over what only
   * it holds), started again, linked to its peers, and only then given clients again.
   */
  const rollReplicas = async (replicaEnv?: Record<string, string>) => {
    const all = replicasNow();
    for (const r of all) {
      // A lone replica has no one to drain to: it restarts, and requests fail meanwhile.
      const drain = all.length > 1;
      progress(
        drain
          ? `rolling restart: ${r.name} leaves nginx, drains, starts again …`
          : `rolling restart: ${r.name} is the only replica: requests fail while it restarts …`,
      );
      if (drain) {
        place.setDraining([r.name]);
        await reloadNginx();
      }
      try {
        await r.restart(replicaEnv);
        await waitLinked();
      } finally {
        if (drain) {
          place.setDraining([]);
          await reloadNginx();
        }
      }
    }
  };
  const rollingRestart = async (replicaEnv?: Record<string, string>) => {
    mustBeIdle('roll');
    busy = 'a rolling restart';
    try {
      await rollReplicas(replicaEnv);
    } finally {
      busy = undefined;
    }
  };
  const scaleStore = async (count: number): Promise<string[]> => {
    const backend = backendOf(profile);
    if (!growth) {
      throw new Error(
        backend.inCookie
          ? `scale-store: ${profile.name} keeps sessions in their cookies; there is no session store to scale`
          : backend.services.length
            ? `scale-store: the ${profile.name} store (${backend.services.join(', ')}) cannot take new servers live; memcached and redis-cluster can`
            : `scale-store: ${profile.name} keeps sessions in the replicas: scale them with scale N`,
      );
    }
    const { plugin, grow } = growth;
    const now = grow.shards();
    if (!Number.isInteger(count) || count < 1 || count > grow.max)
      throw new Error(
        `scale-store: the ${plugin} ${grow.shard} count must be a whole number up to ${grow.max}, not "${count}"`,
      );
    if (count < now)
      throw new Error(
        `scale-store: ${plugin} has ${now} ${grow.shard}s; taking some away is not supported (only growing)`,
      );
    mustBeIdle('scale-store');
    const said: string[] = [];
    const say = (line: string) => {
      said.push(line);
      progress(`scale-store: ${line}`);
    };
    if (count === now) {
      say(`already ${now} ${grow.shard}(s): nothing to do`);
      return said;
    }
    busy = `a store scale to ${count} ${grow.shard}(s)`;
    try {
      const t0 = Date.now();
      place.setStoreShards(plugin, count);
      const described = await pluginNamed(plugin).describe(place, contextOf(plugin));
      const known = new Set(members.map(({ member }) => member.name));
      const units = described.units.filter(isServer).filter((u) => !known.has(u.name));
      say(`starting ${units.map((u) => u.name).join(', ')} …`);
      const started = await startDescribed({ units, env: {} }, place, readyTimeoutMs);
      const last = members.findLastIndex(({ service }) => service === plugin);
      members.splice(
        last + 1,
        0,
        ...[...started.values()].map((member) => ({ member, service: plugin })),
      );
      try {
        await grow.join(started, say);
      } catch (error) {
        // Its servers stay up (some may have joined); the next start keeps the old count.
        place.setStoreShards(plugin, now);
        throw new Error(
          `scale-store: ${errorMessage(error)}\nThe store may be half grown: scale-store ${count} again once the cause is fixed (the runner keeps ${now} for its next start until one succeeds).`,
          { cause: error },
        );
      }
      place.saveStoreShards();
      say(
        `${count} ${grow.shard}(s) serve, ${((Date.now() - t0) / 1000).toFixed(1)} s after the start`,
      );
      // Where the replicas are told every server (memcached's list), they take the new one.
      const changed = Object.fromEntries(
        Object.entries(described.env ?? {}).filter(([k, v]) => env[k] !== v),
      );
      if (Object.keys(changed).length) {
        Object.assign(env, changed);
        // Replicas a later scale starts get it too.
        const app = contextOf('app');
        contexts.set('app', { ...app, env: { ...app.env, ...changed } });
        say(`the replicas take ${Object.keys(changed).join(', ')} by a rolling restart …`);
        await rollReplicas(changed);
      }
      say(`done: ${count} ${grow.shard}(s)`);
      return said;
    } finally {
      busy = undefined;
    }
  };
  const peerLinks = (): PeerNetwork => {
    if (!peerNetwork) throw new Error(`profile "${profile.name}" has no peer links to cut`);
    return peerNetwork;
  };
  const serviceOf = (name: string) => find(name).description.service;
  /** Members whose delay a fault changed: a heal gives them the cluster's link delay again. */
  const slowed = new Set<string>();
  const faults: NetworkFaults | undefined = network && {
    partition: (sides) => network.partition(sides.map((side) => side.map(serviceOf))),
    cut: (from, to) => network.cut(serviceOf(from), serviceOf(to)),
    lose: (member, p) => network.lose(serviceOf(member), p),
    delay: async (member, d) => {
      await network.delay(serviceOf(member), d);
      slowed.add(serviceOf(member));
    },
    heal: async () => {
      await network.heal();
      for (const service of slowed) await network.delay(service, linkDelayOf(options));
      slowed.clear();
    },
    address: (member) => network.address(serviceOf(member)),
  };
  const rejoin = async (replica: Member, replicaEnv?: Record<string, string>) => {
    await replica.restart(replicaEnv);
    // nginx skips a replica for FAIL_TIMEOUT_S after a failed connect: wait until it is back.
    await sleep(FAIL_TIMEOUT_S * 1000 + 500);
  };
  return {
    ...entry,
    profile,
    workDir,
    get replicas() {
      return replicasNow().map((r) => r.name);
    },
    env,
    replicaUrl: (name) => `http://127.0.0.1:${find(name).port}`,
    kill: (name) => find(name).kill(),
    stopMember: (name) => find(name).stop(),
    restart: (name, replicaEnv) => find(name).restart(replicaEnv),
    rollingRestart,
    rejoin: (name) => rejoin(find(name)),
    async partition(name) {
      if (find(name).kind !== 'replica') throw new Error(`"${name}" is not a replica`);
      if (!faults) {
        peerLinks().partition(name);
        return;
      }
      const others = replicasNow().filter((r) => r.name !== name);
      await faults.partition([[name], others.map((r) => r.name)]);
    },
    heal: async () => {
      if (faults) await faults.heal();
      else peerLinks().heal();
    },
    faults,
    peerEnv: (name) => peerNetwork?.envFor(name) ?? {},
    status: () =>
      members.map(({ member: m, service }) => ({
        name: m.name,
        service,
        kind: m.kind,
        port: m.port,
        pid: m.pid,
        running: m.running,
        log: m.log,
        runtime: m.runtime,
      })),
    storeMembers: () =>
      members
        .filter(({ service }) => backendOf(profile).services.includes(service))
        .map(({ member }) => member.name),
    observeStores: () => Promise.all(observers.map((observe) => observe())),
    storeFailover: async () => failover?.(),
    async failStore() {
      if (!failover) throw new Error(`the store of profile "${profile.name}" does not fail over`);
      const before = await failover();
      await find(before.primary).kill();
      let promoted: string | undefined;
      const outcome = await pollUntil(
        async () => {
          promoted = (await failover()).primary;
          return promoted !== before.primary;
        },
        { timeoutMs: readyTimeoutMs, intervalMs: 200 },
      );
      if (!outcome.ok || !promoted)
        throw new Error(
          `${before.primary} was killed, but no other member took over within ${readyTimeoutMs} ms`,
        );
      return { killed: before.primary, promoted };
    },
    scale,
    scaleStore,
    storeShards: () => growth?.grow.shards(),
    stop: () => (stopping ??= stopAll()),
  };
}
/**
 * The network mode's network, when the options ask for it: root only, and for the stores whose
 * servers the runner reaches by port (Redis Cluster's nodes tell clients their addresses on the
 * network, which the runner cannot reach).
 */
async function openNetwork(
  options: ClusterOptions,
  profile: Profile,
  workDir: string,
): Promise<NamespaceNetwork | undefined> {
  if (options.network !== 'netns') return undefined;
  assertNetworkModeAllowed();
  if (backendOf(profile).services.includes('redis-cluster'))
    throw new NetworkModeError(
      'the network mode does not run redis-cluster yet: its nodes hand clients their addresses on the private network, which the runner and the dashboard cannot reach',
    );
  return NamespaceNetwork.create([], networkRecord(workDir), { linkDelay: linkDelayOf(options) });
}

/** Where a network-mode cluster records its network, for the clean-up after a crash. */
const networkRecord = (workDir: string) => join(workDir, 'network.json');

/** Removes what a killed network-mode run of `workDir` left (root only can have made one). */
export async function removeLeftoverNetwork(workDir: string): Promise<void> {
  if (process.getuid?.() === 0) await NamespaceNetwork.removeLeftover(networkRecord(workDir));
}

const linkDelayOf = (options: ClusterOptions): LinkDelay => options.linkDelay ?? LINK_DELAY_DEFAULT;
export type { ClusterOptions } from './options.js';
