/**
 * Server descriptions as native processes: each server is a ManagedProcess on loopback, started
 * after its `after` units, prepared before every start, ready when its probe says so (for the
 * process we spawned, not another one holding the port), stopped and crashed the way its
 * description says. Jobs run to completion in their place of the list.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { defined } from '../../src/common/defined.js';
import type { NamespaceNetwork } from '../network/namespaces.js';
import { PROJECT_ROOT } from '../paths.js';
import { PeerLinks } from '../peer-links.js';
import type { ClusterOptions } from '../options.js';
import type { ProcessLedger } from '../process/ledger.js';
import { ManagedProcess, runToCompletion } from '../process/managed-process.js';
import { freePort, waitForPort } from '../process/ports.js';
import { nativeProgram } from '../process/programs.js';
import { isRoot, lookupSystemUser } from '../process/system-user.js';
import { replicaNames } from '../profiles.js';
import {
  isServer,
  type Described,
  type JobDescription,
  type PeerPlace,
  type Place,
  type Probe,
  type ServerDescription,
} from '../services/description.js';
import { memcachedStats } from '../services/memcached-protocol.js';
import { askRedis, redisProcessId } from '../services/redis-protocol.js';
import type { NativePlacement, RunningServer } from '../services/service.js';
import type { PortBook } from '../work-dir.js';

const LOOPBACK = '127.0.0.1';

/** What every native place is: this machine's loopback, ports that may move between runs. */
const loopback = () =>
  ({
    kind: 'native',
    bind: LOOPBACK,
    portsMove: true,
    byName: false,
    root: isRoot(),
    host: () => LOOPBACK,
    ip: () => LOOPBACK,
  }) as const;

/**
 * The network mode's place: each server in a namespace of its own (cluster/network/), listening
 * on every interface there and reaching the others by their addresses on the cluster's private
 * network; the runner still reaches every server at 127.0.0.1:<its port>, through a forward.
 */
const inNamespaces = (network: NamespaceNetwork) =>
  ({
    kind: 'native',
    bind: '0.0.0.0',
    portsMove: true,
    byName: false,
    root: isRoot(),
    host: (service: string) => network.claim(service),
    ip: (service: string) => network.claim(service),
    runnerHost: () => LOOPBACK,
    privateNetwork: network.subnet,
  }) as const;

/**
 * The place the native runner starts a cluster in: loopback (or, given a namespace network, the
 * network mode), the work dir, the port book.
 */
export function nativePlace(o: {
  workDir: string;
  logDir: string;
  ledger: ProcessLedger;
  ports: PortBook;
  options: ClusterOptions;
  network?: NamespaceNetwork;
}): NativePlacement {
  const network = o.network;
  const taken = new Map<string, Promise<number>>();
  let names = replicaNames(o.options.replicas ?? 3);
  let draining: readonly string[] = [];
  // What a scale-store set, per store plugin: the next start runs as many (their state knows them).
  const shardsFile = join(o.workDir, 'store-shards.json');
  const shards = ((): Record<string, number> => {
    try {
      return JSON.parse(readFileSync(shardsFile, 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  })();
  let links: Promise<PeerLinks> | undefined;
  return {
    ...(network ? inNamespaces(network) : loopback()),
    network,
    workDir: o.workDir,
    logDir: o.logDir,
    ledger: o.ledger,
    nice: o.options.nice,
    ports: o.ports,
    peerNetwork: async () => links && (await links),
    setReplicas(next) {
      names = [...next];
    },
    setDraining(next) {
      draining = [...next];
    },
    storeShards: (plugin) => shards[plugin],
    setStoreShards(plugin, count) {
      shards[plugin] = count;
    },
    saveStoreShards: () => {
      writeFileSync(shardsFile, `${JSON.stringify(shards)}\n`);
    },
    // The same key gets the same port within a start: nginx asks for the replicas' ports too.
    port(key, _standard, { keep = false, plus = 0 } = {}) {
      let port = taken.get(key);
      if (!port) {
        port = keep ? o.ports.take(key, { max: 65535 - plus, plus }) : freePort();
        taken.set(key, port);
      }
      return port;
    },
    previousPort: (key) => o.ports.previous(key),
    dir: (key) => join(o.workDir, key),
    app: {
      get replicas() {
        return names;
      },
      get draining() {
        return draining;
      },
      script: o.options.replicaScript ?? join('dist', 'main.js'),
      secret: () => sharedSecret(o.workDir),
      // Only nginx (which connects from 127.0.0.1, or from its own address in the network mode)
      // may set X-Forwarded-*: a client that reaches a replica directly can't claim to be another.
      trustProxy: network ? network.claim('nginx') : LOOPBACK,
      overrides: (replica) => ({ ...o.options.env, ...o.options.replicaEnv?.[replica] }),
      peers: async (): Promise<PeerPlace> => {
        // In the network mode the replicas reach each other directly: the network cuts links.
        const opened = await (links ??= PeerLinks.open(
          names,
          join(o.workDir, 'members'),
          network
            ? { bind: '0.0.0.0', hostOf: (r) => network.claim(r) }
            : { relays: o.options.peerRelays ?? true },
        ));
        return {
          envFor: (r) => opened.envFor(r),
          opened: (r) => opened.listenInto(r),
          closed: (r) => opened.closeInto(r),
        };
      },
    },
  };
}

/**
 * The runner's default SESSION_SECRET: random, kept in the work dir so sessions stay valid when
 * the cluster is started again, and the same for every replica (different secrets per replica
 * are the "logged in, then silently logged out" failure).
 */
async function sharedSecret(workDir: string): Promise<string> {
  const file = join(workDir, 'session-secret');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing.length >= 32) return existing;
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, secret + '\n', { mode: 0o600 });
  return secret;
}

/** A described server as a process we own by PID. */
export class NativeServer implements RunningServer {
  readonly host = LOOPBACK;
  readonly log: string;
  /** Natively only: runs after a restart is ready (Redis Cluster waits for agreement). */
  afterRestart?: () => Promise<void>;
  private process: ManagedProcess | undefined;
  private readonly env: Record<string, string>;

  /** In the network mode: the root's forwards into its namespace are open. */
  private forwarded = false;

  constructor(
    public description: ServerDescription,
    private readonly place: Pick<NativePlacement, 'logDir' | 'root' | 'network'> & {
      ledger?: ProcessLedger;
      nice?: number;
    },
    private readonly readyTimeoutMs: number,
  ) {
    this.log = join(place.logDir, `${description.service}.log`);
    this.env = { ...description.env };
  }

  get name() {
    return this.description.name;
  }
  get kind() {
    return this.description.kind;
  }
  get port() {
    return this.description.port;
  }
  get dir() {
    return this.description.state?.dir;
  }
  get pid() {
    return this.process?.running ? this.process.pid : null;
  }
  get running() {
    return !!this.process?.running;
  }
  /** A replica runs on the runner's own Node (process.execPath). */
  get runtime() {
    return this.description.command[0] === 'node' ? `node ${process.version}` : undefined;
  }
  /** What a replica's restart may change: its environment. */
  get environment(): Readonly<Record<string, string>> {
    return this.env;
  }

  async start(): Promise<void> {
    const d = this.description;
    if (d.state) await mkdir(d.state.dir, { recursive: true });
    const network = this.place.network;
    if (network) await this.joinNetwork(network);
    await d.prepare?.();
    const proc = await ManagedProcess.start({
      ...(await launchOf(
        d,
        this.env,
        this.place.root,
        network && ((c) => network.wrap(d.service, c)),
      )),
      logFile: this.log,
      ledger: this.place.ledger,
      nice: this.place.nice,
    });
    this.process = proc;
    // A forward accepts connections before the server inside listens: ask inside instead.
    const probe =
      network && d.ready.kind === 'tcp'
        ? () => network.listens(d.service, d.ready.port)
        : () => nativeProbe(d.ready, proc.pid);
    await proc.waitUntilReady(probe, {
      timeoutMs: this.readyTimeoutMs,
      intervalMs: 200,
      what: probeText(d.ready),
    });
  }

  /**
   * Its namespace, and 127.0.0.1:<port> in the root namespace carried to it for each port it
   * listens on (the runner's probes and clients use those). nginx's forwards say who connected
   * (PROXY protocol): ip_hash and the login limit see the clients, not the forward.
   */
  private async joinNetwork(network: NamespaceNetwork): Promise<void> {
    const d = this.description;
    await network.join(d.service);
    if (this.forwarded) return;
    const ports = new Set([d.port, ...(d.publish ?? []).map((p) => p.port)]);
    for (const port of ports)
      await network.forward(d.service, port, { listen: port, proxyProtocol: d.kind === 'nginx' });
    this.forwarded = true;
  }

  async kill(): Promise<void> {
    const crash = this.description.crash;
    if (crash) await this.process?.stop(crash);
    else await this.process?.kill();
  }

  async stop(): Promise<void> {
    await this.process?.stop(this.description.stop);
    await this.description.stopped?.();
  }

  async restart(env?: Record<string, string>): Promise<void> {
    await this.stop();
    Object.assign(this.env, env);
    await this.start();
    await this.afterRestart?.();
  }

  /**
   * Takes a new description of the same server without a restart (nginx with another upstream
   * list): `prepare` writes and checks its config, then SIGHUP has it read it again. nginx starts
   * new workers on it; the old ones finish their requests in flight, and exit.
   */
  async reload(next: ServerDescription): Promise<void> {
    if (!this.process?.running) throw new Error(`${this.name} is not running: start it first`);
    this.description = next;
    Object.assign(this.env, next.env);
    await next.prepare?.();
    this.process.send('SIGHUP');
  }
}

/**
 * What a server's process is started with natively: its description, and the binary found. In
 * a `namespace` (the network mode) through `ip netns exec`, which execs the server itself (the
 * PID stays the server's), dropping to its user with setpriv once inside.
 */
export async function launchOf(
  d: ServerDescription,
  env: Readonly<Record<string, string>> = d.env ?? {},
  root = isRoot(),
  /** The command line that runs a command where it runs (NamespaceNetwork.wrap); absent: here. */
  inside?: (command: readonly string[]) => string[],
) {
  const [program, ...args] = d.command;
  const user = d.user && root ? await lookupSystemUser(d.user) : undefined;
  const cwd = d.state?.dir ?? PROJECT_ROOT;
  const binary = await nativeProgram(defined(program, `${d.name}'s program`));
  const dropTo = user
    ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups']
    : [];
  const [wrapper, ...wrapped] = inside?.([...dropTo, binary, ...args]) ?? [];
  return {
    name: d.name,
    ...(wrapper
      ? { command: wrapper, args: wrapped }
      : { command: binary, args, uid: user?.uid, gid: user?.gid }),
    // HOME and USER of root would be wrong (and unreadable) for another user.
    env: user ? { ...env, HOME: cwd, USER: user.name, LOGNAME: user.name } : { ...env },
    cwd,
    stopSignal: d.stop.signal,
  };
}

/**
 * Starts what a plugin described: each unit once the units of this plugin it comes after are
 * done (the plugins before it are), so independent servers start together. A failure stops
 * what started. Resolves the servers by name, in the order described.
 */
export async function startDescribed(
  described: Described,
  place: NativePlacement,
  readyTimeoutMs: number,
): Promise<Map<string, NativeServer>> {
  const servers = new Map<string, NativeServer>();
  const done = new Map<string, Promise<void>>();
  for (const unit of described.units) {
    const before = (unit.after ?? []).map((s) => done.get(s)).filter((p) => p !== undefined);
    const run = Promise.all(before).then(async () => {
      if (!isServer(unit)) return runJob(unit, place, readyTimeoutMs);
      const server = new NativeServer(unit, place, readyTimeoutMs);
      servers.set(unit.name, server);
      await server.start();
    });
    run.catch(() => undefined); // awaited below; a unit that waits on it fails with it
    done.set(unit.service, run);
  }
  const outcomes = await Promise.allSettled(done.values());
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed) {
    for (const s of [...servers.values()].reverse()) await s.stop().catch(() => undefined);
    throw failed.reason;
  }
  const order = described.units
    .filter(isServer)
    .map((u) => defined(servers.get(u.name), `${u.name}'s server`));
  return new Map(order.map((s) => [s.name, s]));
}

/**
 * A place for one server on its own (the tests' Postgres or Redis): `port`, state and log in
 * `dir`. It has no replicas.
 */
export function standalonePlace(dir: string, port: number): Place {
  return {
    ...loopback(),
    port: async () => port,
    dir: () => dir,
    get app(): never {
      throw new Error('a standalone server has no app replicas');
    },
  };
}

/** Starts one described server with its state and log in `dir`. */
export async function startStandalone(
  description: ServerDescription,
  o: { dir: string; readyTimeoutMs?: number; ledger?: ProcessLedger },
): Promise<NativeServer> {
  await mkdir(o.dir, { recursive: true });
  const server = new NativeServer(
    description,
    { logDir: o.dir, ledger: o.ledger, root: isRoot() },
    o.readyTimeoutMs ?? 30_000,
  );
  await server.start();
  return server;
}

/** Runs a job unless its `unless` already holds. */
async function runJob(job: JobDescription, place: NativePlacement, timeoutMs: number) {
  if (job.unless) {
    const reply = await askRedis<string>(job.unless.port, job.unless.redis).catch(() => '');
    if (reply.includes(job.unless.contains)) return;
  }
  const [program, ...args] = job.command;
  const binary = await nativeProgram(defined(program, `${job.service}'s program`));
  // In the network mode jobs run in a namespace of their own: they reach servers by address.
  const network = place.network;
  if (network) await network.join('jobs');
  const [command = binary, ...commandArgs] = network
    ? network.wrap('jobs', [binary, ...args])
    : [binary, ...args];
  await runToCompletion(
    {
      name: job.service,
      command,
      args: commandArgs,
      env: job.env,
      cwd: PROJECT_ROOT,
      logFile: join(place.logDir, `${job.service}.log`),
      ledger: place.ledger,
    },
    timeoutMs,
  );
}

/** One probe, natively: true once the server we spawned (PID `pid`) answers. */
export async function nativeProbe(probe: Probe, pid: number): Promise<boolean> {
  switch (probe.kind) {
    case 'redis':
      // The PID tells the server we spawned from another one that already held the port.
      return (await redisProcessId(LOOPBACK, probe.port, 1_000)) === pid;
    case 'memcached':
      return (await memcachedStats(LOOPBACK, probe.port)).get('pid') === pid;
    case 'postgres':
      return servesDataDir(probe);
    case 'http': {
      const res = await fetch(`http://${LOOPBACK}:${probe.port}${probe.path}`, {
        signal: AbortSignal.timeout(2000),
      });
      await res.body?.cancel();
      return res.status === 200;
    }
    case 'tcp':
      return waitForPort(LOOPBACK, probe.port, 1000).then(
        () => true,
        () => false,
      );
  }
}

/** What a probe waits for, for the error when it does not happen. */
export function probeText(probe: Probe): string {
  const at = `${LOOPBACK}:${probe.port}`;
  switch (probe.kind) {
    case 'redis':
      return `answers PING on ${at} as the process started`;
    case 'memcached':
      return `answers stats on ${at} as the process started`;
    case 'postgres':
      return `answers queries on ${at} from ${probe.dataDir}`;
    case 'http':
      return `GET ${probe.path} on ${at} answers 200`;
    case 'tcp':
      return `listens on ${at}`;
  }
}

/**
 * True once a query succeeds on a server using the probe's data dir: the data dir tells the
 * server we just spawned from another one that already held the port.
 */
async function servesDataDir(probe: Extract<Probe, { kind: 'postgres' }>): Promise<boolean> {
  const client = new Client({
    host: LOOPBACK,
    port: probe.port,
    user: probe.user,
    database: probe.database,
    connectionTimeoutMillis: 2_000,
  });
  // A refused connect also emits 'error'; without a listener it would be thrown globally.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
    if (rows[0]?.data_directory === probe.dataDir) return true;
    throw new Error(
      `the server on this port serves ${rows[0]?.data_directory ?? 'no data directory'}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
