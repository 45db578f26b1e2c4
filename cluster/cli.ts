/**
 * `npm run cluster -- --profile <name>`: the whole topology as local processes.
 * `npm run cluster -- status | kill <member> | restart <member> | partition <replica> | heal | stop`:
 * act on the running one. `--port` names a cluster: its work dir (and https port) follow from it,
 * so two clusters run side by side from one checkout with nothing but two ports.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defined } from '../src/common/defined.js';
import { MAX_REPLICAS, startCluster, type Cluster, type MemberStatus } from './cluster.js';
import { sendControl, serveControl, type ControlCommand } from './control.js';
import { FaultError, parseFault } from './faults/network-fault.js';
import { serveDashboard } from './dashboard/server.js';
import { PROJECT_ROOT } from './paths.js';
import { accessLogOf } from './services/nginx.js';
import { freePort, tcpConnect } from './process/ports.js';
import { isProfileName, profileNames, profiles } from './profiles.js';
import { describeProcesses, ledgerOf, liveRunner } from './work-dir.js';

const DEFAULT_PORT = 8080;
const DEFAULT_TLS_PORT = 8443;

const USAGE = `Usage:
  npm run cluster -- [--profile ${profileNames.join('|')}] [--port 8080] [--replicas 3] [--fresh]
                     [--tls-port 8443] [--work-dir .cluster] [--dashboard-port 0]
                     [--network loopback|netns] [--link-delay 0.25]
      A cluster starts again on what it left in its work dir (users, the sessions a store keeps);
      --fresh discards that first. The work dir is .cluster for port 8080, .cluster-<port> for
      another port; the https port is 8443 for port 8080, a free one otherwise.
      --network netns (root only): every server in a network namespace of its own, on a private
      network whose links delay each packet --link-delay ms (± a fifth; 0: none), with the
      network faults below.
  npm run cluster -- status                  members of the running cluster (add --port or
                                             --work-dir to name another one)
  npm run cluster -- kill <member>           SIGKILL a member (app-2, nginx, postgres, a store server: see status): a crash
  npm run cluster -- stop-member <member>    SIGTERM a member: a graceful stop
  npm run cluster -- restart <member>        start a member again and wait until it is ready
  npm run cluster -- roll                    restart every replica in turn, gracefully
  npm run cluster -- scale <1-9>             scale the replicas while users are logged in: new ones
                                             start, then nginx takes them in; leaving ones drain
  npm run cluster -- scale-store <n>         grow the session store to n shards live: memcached
                                             nodes, redis-cluster masters (slots move to them)
  npm run cluster -- partition <replica>     cut a replica's peer links (replicated profile)
  npm run cluster -- partition <a,b> <c,d>   --network netns: the members named in one group
                                             cannot reach those in another (others keep links)
  npm run cluster -- cut <from> <to>         --network netns: what <from> sends to <to> is lost
  npm run cluster -- lose <member> <percent> --network netns: <member> loses that share of what it receives
  npm run cluster -- slow <member> <ms>      --network netns: what <member> sends waits <ms>
  npm run cluster -- heal                    restore every cut peer link (and end every network fault)
  npm run cluster -- failover                crash the store's primary (redis-ha, redis-cluster), wait for the takeover
  npm run cluster -- stop                    stop the running cluster (or what a killed runner left)

Profiles:
${profileNames.map((p) => `  ${p.padEnd(Math.max(...profileNames.map((n) => n.length)))}  ${profiles[p].shows}`).join('\n')}`;

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string', default: 'redis' },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      'tls-port': { type: 'string' },
      replicas: { type: 'string', default: '3' },
      // 0: any free port. The dashboard listens on 127.0.0.1 only, behind a random token.
      'dashboard-port': { type: 'string', default: '0' },
      'work-dir': { type: 'string' },
      fresh: { type: 'boolean', default: false },
      network: { type: 'string', default: 'loopback' },
      'link-delay': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const port = portOption('--port', values.port);
  const dashboardPort =
    values['dashboard-port'] === '0' ? 0 : portOption('--dashboard-port', values['dashboard-port']);
  // Given: that port. Not given: 8443 beside the default port, else a free one (see up()).
  const tlsPort =
    values['tls-port'] === undefined ? undefined : portOption('--tls-port', values['tls-port']);
  const workDir = resolve(
    values['work-dir'] ??
      join(PROJECT_ROOT, port === DEFAULT_PORT ? '.cluster' : `.cluster-${port}`),
  );
  const replicas = Number(values.replicas);
  if (!isProfileName(values.profile)) throw new UsageError(`unknown profile "${values.profile}"`);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS)
    throw new UsageError(`--replicas must be 1-${MAX_REPLICAS}, not "${values.replicas}"`);
  const network = (['loopback', 'netns'] as const).find((n) => n === values.network);
  if (!network)
    throw new UsageError(`--network must be loopback or netns, not "${values.network}"`);
  const delayMs = values['link-delay'] === undefined ? undefined : Number(values['link-delay']);
  if (delayMs !== undefined && !(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= 10_000))
    throw new UsageError(`--link-delay must be 0-10000 ms, not "${values['link-delay'] ?? ''}"`);
  if (delayMs !== undefined && network !== 'netns')
    throw new UsageError('--link-delay needs --network netns (loopback has no links to delay)');
  return {
    ...values,
    network,
    linkDelay: delayMs === undefined ? undefined : { ms: delayMs, jitterMs: delayMs / 5 },
    profile: values.profile,
    port,
    tlsPort,
    replicas,
    dashboardPort,
    workDir,
    /** What names this cluster in a command for another terminal: "", " --port N" or " --work-dir D". */
    named:
      values['work-dir'] !== undefined
        ? ` --work-dir ${values['work-dir']}`
        : port === DEFAULT_PORT
          ? ''
          : ` --port ${port}`,
    positionals,
  };
}

function portOption(flag: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`${flag} must be 1-65535, not "${value}"`);
  return port;
}

const inUse = (port: number) =>
  tcpConnect('127.0.0.1', port, 500).then(
    () => true,
    () => false,
  );

function table(status: MemberStatus[]): string {
  const rows = status.map((m) => [
    m.name,
    m.kind,
    `127.0.0.1:${m.port}`,
    m.pid ? String(m.pid) : '-',
    m.running ? 'up' : 'DOWN',
    m.runtime ?? '-',
    m.log,
  ]);
  const head = ['member', 'kind', 'address', 'pid', 'state', 'runtime', 'log'];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => defined(r[i], `${h} cell`).length)),
  );
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(defined(widths[i], `column ${i}'s width`)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function control(workDir: string, command: ControlCommand): Promise<void> {
  const reply = await sendControl(join(workDir, 'control.sock'), command).catch(async () => {
    // No runner answers: one may still be starting (its socket opens once it is ready), or
    // one killed with SIGKILL may have left its servers running: stop finds those in its work
    // dir's ledger and stops them.
    const starting = await liveRunner(workDir);
    if (starting)
      throw new UsageError(
        `the runner in ${workDir} (pid ${starting.pid}) is still starting: try again once it says ready, or press Ctrl-C in its terminal`,
      );
    if (command.cmd === 'stop') {
      const stopped = await ledgerOf(workDir).sweep();
      if (stopped.length) {
        console.log(
          `no runner answered from ${workDir}; stopped what it had left running: ${describeProcesses(stopped)}`,
        );
        return undefined;
      }
    }
    throw new UsageError(
      `no cluster is running from ${workDir} (start one with: npm run cluster -- --profile redis, or name another with --port or --work-dir)`,
    );
  });
  if (!reply) return;
  if (!reply.ok) throw new Error(reply.error);
  if (reply.message) console.log(reply.message);
  console.log(table(reply.status));
}

async function up(o: ReturnType<typeof parse>): Promise<void> {
  const socketPath = join(o.workDir, 'control.sock');
  if (
    await sendControl(socketPath, { cmd: 'status' }, 2000).then(
      () => true,
      () => false,
    )
  ) {
    throw new UsageError(
      `a cluster is already running from ${o.workDir}: stop it (npm run cluster -- stop${o.named}) or start another with a different --port`,
    );
  }
  const starting = await liveRunner(o.workDir);
  if (starting)
    throw new UsageError(
      `another runner (pid ${starting.pid}) is starting a cluster in ${o.workDir}: wait for it, or start this one with a different --port`,
    );
  // A runner killed with SIGKILL left its servers running here, holding their ports: stop them
  // before the ports are checked (the start would find nothing left to stop).
  const swept = await ledgerOf(o.workDir).sweep();
  if (swept.length)
    console.log(
      `stopped what a killed runner had left running in ${o.workDir}: ${describeProcesses(swept)}`,
    );
  if (await inUse(o.port))
    throw new UsageError(`port ${o.port} is already in use: pass another --port`);
  let tlsPort = o.tlsPort;
  if (tlsPort !== undefined && (await inUse(tlsPort)))
    throw new UsageError(`port ${tlsPort} is already in use: pass another --tls-port`);
  if (tlsPort === o.port) throw new UsageError('--port and --tls-port must differ');
  if (tlsPort === undefined && o.port === DEFAULT_PORT && !(await inUse(DEFAULT_TLS_PORT)))
    tlsPort = DEFAULT_TLS_PORT;
  // The kernel may offer --port itself: nothing listens there yet.
  while (tlsPort === undefined || tlsPort === o.port) tlsPort = await freePort();

  const t0 = Date.now();
  const say = (line: string) => {
    console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}`);
  };
  say(`starting profile "${o.profile}": ${profiles[o.profile].shows}`);
  say(
    o.fresh
      ? `work dir ${o.workDir}: discarding what earlier runs left there (--fresh)`
      : `work dir ${o.workDir}: starting on what earlier runs left there (--fresh discards it)`,
  );
  const cluster: Cluster = await startCluster({
    profile: o.profile,
    port: o.port,
    tlsPort,
    replicas: o.replicas,
    workDir: o.workDir,
    fresh: o.fresh,
    network: o.network,
    linkDelay: o.linkDelay,
    onProgress: say,
  }).catch((error: unknown) => {
    if (o.fresh) throw error;
    // On the first line, which is the one a user reads: log tails may follow it.
    const message = error instanceof Error ? error.message : String(error);
    const [first = '', ...rest] = message.split('\n');
    const hint = ` (if what earlier runs left in ${o.workDir} is the cause, add --fresh)`;
    throw new Error([first + hint, ...rest].join('\n'), { cause: error });
  });

  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`${why}: stopping every member …`);
    server.close();
    await dashboard.close();
    await cluster.stop();
    say('stopped; nothing left running');
    process.exit(0);
  };
  const server = await serveControl(socketPath, cluster, () => void shutdown('stop requested'));
  const dashboard = await serveDashboard(cluster, {
    port: o.dashboardPort,
    nginxAccessLog: accessLogOf(cluster.workDir),
  });
  process.on('SIGINT', () => void shutdown('Ctrl-C'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  console.log('');
  console.log(table(cluster.status()));
  console.log('');
  console.log(
    `Open ${cluster.url}/ in a browser; from another terminal: npm run cluster -- kill app-2${o.named} | restart app-2${o.named} | status${o.named}`,
  );
  console.log(
    `Also over https (self-signed certificate: curl -k, or accept the browser warning): ${cluster.httpsUrl}/`,
  );
  console.log(`Dashboard (this machine only; the token is the key): ${dashboard.url}`);
  console.log('Ctrl-C stops everything.');
  console.log(`ready ${cluster.url}`);
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  if (o.help) {
    console.log(USAGE);
    return;
  }
  const [command, member, ...extra] = o.positionals;
  const faultCommand =
    (command === 'partition' && extra.length > 0) ||
    command === 'cut' ||
    command === 'lose' ||
    command === 'slow';
  if (faultCommand) {
    let fault;
    try {
      fault = parseFault(o.positionals);
    } catch (error) {
      if (error instanceof FaultError) throw new UsageError(error.message);
      throw error;
    }
    await control(o.workDir, { cmd: 'fault', fault });
    return;
  }
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  switch (command) {
    case undefined:
    case 'up':
      return up(o);
    case 'status':
    case 'roll':
    case 'stop':
    case 'heal':
    case 'failover':
      return control(o.workDir, { cmd: command });
    case 'kill':
    case 'restart':
    case 'stop-member':
    case 'partition':
      if (!member) throw new UsageError(`"${command}" needs a member name, e.g. app-2`);
      return control(o.workDir, { cmd: command, member });
    case 'scale': {
      // The count is checked where it is used (the running cluster), so the dashboard's buttons
      // and this command say the same thing; only "no count at all" is a usage error here.
      if (!member)
        throw new UsageError(`"scale" needs a replica count, 1-${MAX_REPLICAS}, e.g. scale 5`);
      return control(o.workDir, { cmd: 'scale', count: member });
    }
    case 'scale-store':
      if (!member) throw new UsageError('"scale-store" needs a shard count, e.g. scale-store 3');
      return control(o.workDir, { cmd: 'scale-store', count: member });
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main().catch((error: unknown) => {
  if (
    error instanceof UsageError ||
    (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  ) {
    console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
