/**
 * `npm run cluster -- --profile <name>`: the whole topology as local processes.
 * `npm run cluster -- status | kill <member> | restart <member> | partition <replica> | heal | stop`:
 * act on the running one.
 */
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster, type MemberStatus } from './cluster.js';
import { sendControl, serveControl, type ControlCommand } from './control.js';
import { serveDashboard } from './dashboard/server.js';
import { PROJECT_ROOT } from './paths.js';
import { tcpConnect } from './process/ports.js';
import { isProfileName, profileNames, profiles } from './profiles.js';

const USAGE = `Usage:
  npm run cluster -- [--profile ${profileNames.join('|')}] [--port 8080] [--tls-port 8443] [--replicas 3] [--work-dir .cluster] [--dashboard-port 0]
  npm run cluster -- status                  members of the running cluster
  npm run cluster -- kill <member>           SIGKILL a member (app-2, nginx, postgres, a store server: see status): a crash
  npm run cluster -- stop-member <member>    SIGTERM a member: a graceful stop
  npm run cluster -- restart <member>        start a member again and wait until it is ready
  npm run cluster -- roll                    restart every replica in turn, gracefully
  npm run cluster -- partition <replica>     cut a replica's peer links (replicated profile)
  npm run cluster -- heal                    restore every cut peer link
  npm run cluster -- stop                    stop the running cluster

Profiles:
${profileNames.map((p) => `  ${p.padEnd(Math.max(...profileNames.map((n) => n.length)))}  ${profiles[p].shows}`).join('\n')}`;

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string', default: 'redis' },
      port: { type: 'string', default: '8080' },
      'tls-port': { type: 'string', default: '8443' },
      replicas: { type: 'string', default: '3' },
      // 0: any free port. The dashboard listens on 127.0.0.1 only, behind a random token.
      'dashboard-port': { type: 'string', default: '0' },
      'work-dir': { type: 'string', default: join(PROJECT_ROOT, '.cluster') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const port = portOption('--port', values.port);
  const dashboardPort =
    values['dashboard-port'] === '0' ? 0 : portOption('--dashboard-port', values['dashboard-port']);
  const tlsPort = portOption('--tls-port', values['tls-port']);
  const replicas = Number(values.replicas);
  if (!isProfileName(values.profile)) throw new UsageError(`unknown profile "${values.profile}"`);
  if (port === tlsPort) throw new UsageError('--port and --tls-port must differ');
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 9)
    throw new UsageError(`--replicas must be 1-9, not "${values.replicas}"`);
  return {
    ...values,
    profile: values.profile,
    port,
    tlsPort,
    replicas,
    dashboardPort,
    workDir: resolve(values['work-dir']),
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
    m.log,
  ]);
  const head = ['member', 'kind', 'address', 'pid', 'state', 'log'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function control(socketPath: string, command: ControlCommand): Promise<void> {
  const reply = await sendControl(socketPath, command).catch(() => {
    throw new UsageError(
      `no cluster is running from ${socketPath.replace(/\/control\.sock$/, '')} (start one with: npm run cluster -- --profile redis)`,
    );
  });
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
      `a cluster is already running from ${o.workDir}: stop it (npm run cluster -- stop) or pass another --work-dir`,
    );
  }
  for (const [flag, port] of [
    ['--port', o.port],
    ['--tls-port', o.tlsPort],
  ] as const) {
    if (await inUse(port))
      throw new UsageError(`port ${port} is already in use: pass another ${flag}`);
  }

  const t0 = Date.now();
  const say = (line: string) =>
    console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}`);
  say(`starting profile "${o.profile}": ${profiles[o.profile].shows}`);
  const cluster: Cluster = await startCluster({
    profile: o.profile,
    port: o.port,
    tlsPort: o.tlsPort,
    replicas: o.replicas,
    workDir: o.workDir,
    onProgress: say,
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
  const nginx = cluster.status().find((m) => m.kind === 'nginx')!;
  const dashboard = await serveDashboard(cluster, {
    port: o.dashboardPort,
    nginxAccessLog: join(dirname(nginx.log), 'access.log'),
  });
  process.on('SIGINT', () => void shutdown('Ctrl-C'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  console.log('');
  console.log(table(cluster.status()));
  console.log('');
  console.log(
    `Open ${cluster.url}/ in a browser; from another terminal: npm run cluster -- kill app-2 | restart app-2 | status`,
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
  if (o.help) return void console.log(USAGE);
  const [command, member, ...extra] = o.positionals;
  const socketPath = join(o.workDir, 'control.sock');
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  switch (command) {
    case undefined:
    case 'up':
      return up(o);
    case 'status':
    case 'roll':
    case 'stop':
    case 'heal':
      return control(socketPath, { cmd: command });
    case 'kill':
    case 'restart':
    case 'stop-member':
    case 'partition':
      if (!member) throw new UsageError(`"${command}" needs a member name, e.g. app-2`);
      return control(socketPath, { cmd: command, member });
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
