/**
 * Hostile input on the replication peer port, generated (the HostilePort of hostile/harness.ts,
 * next to the HTTP port of hostile-input.e2e-spec.ts): a replicated-profile cluster, one replica
 * under attack, every case a frame it must refuse. The world: every replica's sessions (count and
 * digest, from its readiness report) and that no process crashed or restarted; every case asks
 * for the fixture session's end, so one accepted frame shows as a change.
 *
 * Runs: 200 cases by default (each opens a connection and waits a little for it to be closed);
 * HOSTILE_RUNS / HOSTILE_SEED / HOSTILE_PATH as for the HTTP suite.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { knownOn, startTestCluster, type TestCluster } from './support/cluster.js';
import { eventually } from './support/eventually.js';
import type { HttpClient } from './support/http-client.js';
import { register, uniqueName } from './support/steps.js';
import { runHostile, settingsFromEnv, type World } from './hostile/harness.js';
import { PeerPort } from './hostile/peer-port.js';

const settings = { ...settingsFromEnv(), runs: Number(process.env.HOSTILE_RUNS ?? 200) };
const log = (line: string) => process.stdout.write(`${line}\n`);

let cluster: TestCluster;
let victim: HttpClient;
let victimId: string;
/** What beforeAll got started, stopped after the tests: a failed start may leave it to stop. */
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  cluster = await startTestCluster('replicated');
  stops.push(() => cluster.teardown());
  victim = cluster.client(70);
  await register(victim, uniqueName('hostile-peer'));
  // The copies are asynchronous: the next request may reach a replica the session has not yet.
  const everywhere = async () => Object.values(await knownOn(cluster, victim)).every(Boolean);
  if (!(await eventually(everywhere)))
    throw new Error("the victim's session never reached every replica");
  const list = (await victim.get('/api/sessions')).body as {
    sessions: Array<{ id: string; current: boolean }>;
  };
  victimId = defined(
    list.sessions.find((s) => s.current),
    "the victim's session",
  ).id;
}, 90_000);

afterAll(async () => {
  for (const stop of stops) await stop();
}, 60_000);

async function replicaState(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const r of cluster.replicas) {
    const res = await fetch(`${cluster.replicaUrl(r)}/health/ready`);
    const body = (await res.json()) as {
      checks: { sessionStore: { stats?: { sessions: number; digest: string } } };
    };
    const stats = body.checks.sessionStore.stats;
    out[r] = { sessions: stats?.sessions, digest: stats?.digest };
  }
  return out;
}

describe('the replication peer port, generated hostile frames', () => {
  it(`refuses every case and changes nothing (${settings.runs} cases)`, async () => {
    // Quiet first: every replica holds the same sessions.
    expect(
      await eventually(async () => {
        const digests = Object.values(await replicaState()).map((s) => JSON.stringify(s));
        return new Set(digests).size === 1;
      }),
    ).toBe(true);
    const pids = cluster.status().map((m) => [m.name, m.pid]);
    const world: World = {
      snapshot: replicaState,
      async assertHealthy(thorough) {
        const now = cluster.status().map((m) => [m.name, m.running ? m.pid : 'not running']);
        expect(now).toEqual(pids);
        if (!thorough) return;
        for (const r of cluster.replicas)
          expect((await fetch(`${cluster.replicaUrl(r)}/health/ready`)).status).toBe(200);
      },
    };
    const peer = defined(cluster.replicas[0], 'a first replica');
    const target = defined(cluster.replicas[1], 'a second replica');
    const other = defined(cluster.replicas[2], 'a third replica');
    const env = cluster.peerEnv(target);
    const port = new PeerPort({
      url: `ws://127.0.0.1:${defined(env.REPLICATION_PORT, "the target's peer port")}/`,
      self: target,
      peer,
      other,
      secret: defined(env.REPLICATION_SECRET, 'the replication secret'),
      body: () => ({
        t: 'destroyed',
        items: [
          { id: victimId, gone: [Date.now() * 1000 + 1e9, peer], until: Date.now() + 60_000 },
        ],
      }),
    });
    const report = await runHostile([port], world, settings, log);
    expect(report.cases).toBeGreaterThanOrEqual(settings.runs);
    expect(Object.values(await knownOn(cluster, victim)).every(Boolean)).toBe(true);
  }, 300_000);
});
