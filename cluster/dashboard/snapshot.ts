import { readFile } from 'node:fs/promises';
import type { Cluster, MemberStatus } from '../cluster.js';
import { backendOf } from '../profiles.js';
import type { StoreObserver } from '../services/service.js';
import type { SimulatedLoadState } from './simulated-load.js';
import type { TimelineEvent } from './timeline.js';

/** What the dashboard page shows, sent to it once a second. */
export interface Snapshot {
  profile: {
    name: string;
    shows: string;
    routing: string;
    sessions: string;
    /** Replicas talk over a peer channel: partition and heal apply. */
    peerChannel: boolean;
    /** The network mode: every member in a namespace of its own, network faults apply. */
    network: boolean;
  };
  /** For stores that fail over: the member that is the primary now. */
  primary?: string;
  at: number;
  members: Array<MemberStatus & { uptimeS: number | null }>;
  /** Requests per second and share, per replica. */
  traffic: Record<string, { rps: number; share: number }>;
  /**
   * Per replica: the sessions it holds itself, by role; null when they live in a store; a word
   * when it cannot say ("down", "no answer").
   */
  held: Record<string, Record<string, number> | null | string>;
  /** The store servers' own view (keys, memory), for the store profiles. */
  stores: Array<{
    label: string;
    keys: number | null;
    usedBytes: number | null;
    /** Keys per server holding a share (memcached nodes, Cluster masters): where they went. */
    perServer: Record<string, number> | null;
  }>;
  load: SimulatedLoadState;
  events: TimelineEvent[];
}

/** Linux counts process start times in clock ticks since boot. */
const CLOCK_TICKS_PER_S = 100;

/** Seconds since `pid` started, from /proc (null when it is gone). */
export async function uptimeOf(pid: number | null): Promise<number | null> {
  if (!pid) return null;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after its closing ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]); // field 22 of the whole line
    const sinceBoot = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
    return Math.max(0, Math.round(sinceBoot - startTicks / CLOCK_TICKS_PER_S));
  } catch {
    return null;
  }
}

/** What one replica says it holds (GET /internal/sessions, straight to it, never through nginx). */
async function heldBy(cluster: Cluster, replica: string) {
  try {
    const res = await fetch(`${cluster.replicaUrl(replica)}/internal/sessions`, {
      signal: AbortSignal.timeout(1000),
    });
    if (!res.ok) return `answered ${res.status}`;
    return ((await res.json()) as { held: Record<string, number> | null }).held;
  } catch {
    return 'no answer';
  }
}

async function storeView(o: StoreObserver) {
  const [keys, used, perServer] = await Promise.all([
    o.sessionCount?.().catch(() => null) ?? null,
    o.usedMemory().catch(() => null),
    o.keysPerServer?.().catch(() => null) ?? null,
  ]);
  return {
    label: o.label,
    keys,
    usedBytes: used !== null && Number.isFinite(used) ? used : null,
    perServer,
  };
}

export async function takeSnapshot(
  cluster: Cluster,
  o: {
    rates: Map<string, number>;
    observers: StoreObserver[];
    load: SimulatedLoadState;
    events: TimelineEvent[];
    primary?: string;
  },
): Promise<Snapshot> {
  const status = cluster.status();
  const members = await Promise.all(
    status.map(async (m) => ({ ...m, uptimeS: m.running ? await uptimeOf(m.pid) : null })),
  );
  const replicas = status.filter((m) => m.kind === 'replica');
  const rps = Object.fromEntries(
    replicas.map((r) => [r.name, o.rates.get(`127.0.0.1:${r.port}`) ?? 0]),
  );
  const total = Object.values(rps).reduce((a, b) => a + b, 0);
  const held = Object.fromEntries(
    await Promise.all(
      replicas.map(async (r) => [r.name, r.running ? await heldBy(cluster, r.name) : 'down']),
    ),
  ) as Snapshot['held'];
  return {
    profile: {
      name: cluster.profile.name,
      shows: cluster.profile.shows,
      routing: cluster.profile.routing,
      sessions: cluster.profile.sessions,
      peerChannel: backendOf(cluster.profile).peerChannel === true,
      network: cluster.faults !== undefined,
    },
    primary: o.primary,
    at: Date.now(),
    members,
    traffic: Object.fromEntries(
      Object.entries(rps).map(([r, n]) => [r, { rps: n, share: total ? n / total : 0 }]),
    ),
    held,
    stores: await Promise.all(o.observers.map(storeView)),
    load: o.load,
    events: o.events,
  };
}
