/**
 * The operator's view of a running native cluster: its own port on 127.0.0.1, a random token in
 * the URL it prints, live updates over server-sent events, and buttons that run the same commands
 * as the CLI (control.ts). Part of the runner, never of the app or its image.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Cluster, MemberStatus } from '../cluster.js';
import { runCommand, type ControlCommand } from '../control.js';
import { checkFault, describeFault, FaultError, parseFault } from '../faults/network-fault.js';
import { PROJECT_ROOT } from '../paths.js';
import type { StoreObserver } from '../services/service.js';
import { SimulatedLoad } from './simulated-load.js';
import { takeSnapshot } from './snapshot.js';
import { Timeline } from './timeline.js';
import { AccessLogTraffic } from './traffic.js';

const PAGE_DIR = join(PROJECT_ROOT, 'cluster', 'dashboard', 'page');
/** The page's files by URL path, each with the type it is served as. */
const ASSETS = new Map([
  ['/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/dashboard.js', { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' }],
  ['/dashboard.css', { file: 'dashboard.css', type: 'text/css; charset=utf-8' }],
]);
/** The buttons: what a member or the replicas can be made to do (not "stop the cluster"). */
const BUTTONS = new Set([
  'kill',
  'restart',
  'stop-member',
  'roll',
  'partition',
  'heal',
  'scale',
  'fault',
]);
const MAX_BODY = 4096;
const DEFAULT_CLIENTS = 30;

export interface Dashboard {
  url: string;
  token: string;
  close(): Promise<void>;
}

/** What the last command from the dashboard did to a member, to name the cause of its change. */
interface Cause {
  what: string;
  at: number;
}

export async function serveDashboard(
  cluster: Cluster,
  o: { port?: number; nginxAccessLog: string; onStop?: () => void },
): Promise<Dashboard> {
  const token = randomBytes(24).toString('base64url');
  const timeline = new Timeline();
  const traffic = new AccessLogTraffic(o.nginxAccessLog);
  const load = new SimulatedLoad(cluster.url, () => {
    timeline.loggedOut();
  });
  const causes = new Map<string, Cause>();
  const streams = new Set<ServerResponse>();
  let observers: StoreObserver[] = [];
  let last = new Map(cluster.status().map((m) => [m.name, m]));
  /** For stores that fail over: the member that is the primary now (a role change is an event). */
  let primary: string | undefined;
  const notePrimary = async () => {
    const now = (await cluster.storeFailover().catch(() => undefined))?.primary;
    if (now && primary && now !== primary)
      timeline.add(now, `promoted: the store's primary now (was ${primary})`);
    primary = now ?? primary;
  };
  await notePrimary();

  const connectObservers = async () => {
    if (observers.length) return;
    observers = await cluster.observeStores().catch(() => []);
  };
  await connectObservers();

  /** One event per change of a member's state or PID, named by its cause when we caused it. */
  const noteChanges = (now: MemberStatus[]) => {
    for (const m of now) {
      const before = last.get(m.name);
      if (!before) continue;
      const cause = causes.get(m.name);
      const recent = cause && Date.now() - cause.at < 15_000 ? cause.what : undefined;
      if (before.running && !m.running) timeline.add(m.name, recent ?? 'went down');
      else if (!before.running && m.running) timeline.add(m.name, `up again (pid ${m.pid ?? '?'})`);
      else if (before.pid !== m.pid && m.running)
        timeline.add(m.name, `${recent ?? 'restarted'}: up again (pid ${m.pid ?? '?'})`);
    }
    last = new Map(now.map((m) => [m.name, m]));
  };

  const tick = async () => {
    await traffic.tick();
    noteChanges(cluster.status());
    await notePrimary();
    if (!streams.size) return;
    await connectObservers();
    const snapshot = await takeSnapshot(cluster, {
      rates: traffic.rates(),
      observers,
      load: load.state(),
      events: timeline.list(),
      primary,
    });
    const frame = `data: ${JSON.stringify(snapshot)}\n\n`;
    for (const res of streams) res.write(frame);
  };
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return; // a slow snapshot (a store down) never piles up
    ticking = true;
    void tick().finally(() => (ticking = false));
  }, 1000);

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        send(res, 500, { error: err instanceof Error ? err.message : String(err) });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const port = (server.address() as { port: number }).port;
    // Only what a browser on this machine sends: another Host is a DNS-rebinding page.
    if (![`127.0.0.1:${port}`, `localhost:${port}`].includes(req.headers.host ?? '')) {
      send(res, 403, { error: 'wrong Host' });
      return;
    }
    const given =
      req.method === 'GET' ? url.searchParams.get('token') : req.headers['x-dashboard-token'];
    if (!sameToken(typeof given === 'string' ? given : '', token)) {
      send(res, 403, {
        error: 'the dashboard needs the token from the URL the runner printed',
      });
      return;
    }

    const asset = req.method === 'GET' ? ASSETS.get(url.pathname) : undefined;
    if (asset) {
      const page = await readFile(join(PAGE_DIR, asset.file), 'utf8');
      const body = page.replaceAll('__TOKEN__', token);
      res.writeHead(200, {
        'content-type': asset.type,
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'self'; style-src 'self'; script-src 'self'",
        'referrer-policy': 'no-referrer',
      });
      return void res.end(body);
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(': connected\n\n');
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (req.method === 'POST' && req.headers['content-type'] === 'application/json') {
      const body = await readJson(req);
      if (url.pathname === '/api/command') {
        send(res, ...(await command(body)));
        return;
      }
      if (url.pathname === '/api/load') {
        send(res, ...(await simulate(body)));
        return;
      }
    }
    send(res, 404, { error: 'no such thing here' });
  }

  async function command(body: unknown): Promise<[number, unknown]> {
    const { cmd, member, count, fault, words } = (body ?? {}) as {
      cmd?: unknown;
      member?: unknown;
      count?: unknown;
      /** A network fault as JSON (a member's "isolate" button)... */
      fault?: unknown;
      /** ...or as the CLI's words ("partition app-1,redis-1 app-2,app-3"). */
      words?: unknown;
    };
    if (typeof cmd !== 'string' || !BUTTONS.has(cmd))
      return [400, { error: `cmd must be one of ${[...BUTTONS].join(', ')}` }];
    if (cmd === 'fault') {
      let checked;
      try {
        checked =
          typeof words === 'string' ? parseFault(words.trim().split(/\s+/)) : checkFault(fault);
      } catch (error) {
        if (error instanceof FaultError) return [400, { ok: false, error: error.message }];
        throw error;
      }
      const reply = await runCommand({ cmd, fault: checked }, cluster, () => o.onStop?.());
      if (reply.ok) timeline.add('network', describeFault(checked));
      return [reply.ok ? 200 : 400, reply];
    }
    if (cmd === 'scale') {
      if (typeof count !== 'number' && typeof count !== 'string')
        return [400, { error: 'count is required' }];
      const before = cluster.replicas.length;
      const reply = await runCommand({ cmd, count }, cluster, () => o.onStop?.());
      if (reply.ok && cluster.replicas.length !== before)
        timeline.add('replicas', `scaled ${before} → ${cluster.replicas.length}`);
      noteChanges(cluster.status());
      return [reply.ok ? 200 : 400, reply];
    }
    const whole = cmd === 'roll' || cmd === 'heal'; // commands for the replicas together
    if (!whole && typeof member !== 'string') return [400, { error: 'member is required' }];
    if (whole)
      timeline.add(
        cluster.faults && cmd === 'heal' ? 'network' : 'replicas',
        cmd === 'roll'
          ? 'rolling restart'
          : cluster.faults
            ? 'every fault healed'
            : 'peer links healed',
      );
    else if (cmd === 'partition') timeline.add(member as string, 'cut off from its peers');
    else {
      const what = { kill: 'killed (SIGKILL)', 'stop-member': 'stopped (SIGTERM)' }[cmd] ?? cmd;
      causes.set(member as string, { what, at: Date.now() });
    }
    const reply = await runCommand({ cmd, member } as ControlCommand, cluster, () => o.onStop?.());
    noteChanges(cluster.status());
    return [reply.ok ? 200 : 400, reply];
  }

  async function simulate(body: unknown): Promise<[number, unknown]> {
    const { action, clients } = (body ?? {}) as { action?: unknown; clients?: unknown };
    if (action === 'start') {
      const n = clients === undefined ? DEFAULT_CLIENTS : Number(clients);
      if (!Number.isInteger(n) || n < 1 || n > 250)
        return [400, { error: 'clients must be 1-250' }];
      await load.start(n);
    } else if (action === 'stop') await load.stop();
    else return [400, { error: 'action must be start or stop' }];
    return [200, load.state()];
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      resolve();
    });
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    token,
    async close() {
      clearInterval(timer);
      await load.stop();
      for (const res of streams) res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      await Promise.all(observers.map((ob) => ob.close().catch(() => undefined)));
    },
  };
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
