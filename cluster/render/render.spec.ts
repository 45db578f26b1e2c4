/**
 * Every server is described once (cluster/services/) and rendered twice: as a native process
 * (render/native.ts) and as a compose service (render/compose.ts). This renders every
 * description of every profile both ways, in both places (the native runner's loopback and
 * compose's network), and compares what each would start: program and arguments, environment,
 * port, health check, stop signal. A command line, a port or a health check written twice would
 * drift apart; here there is nothing to drift.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { ProcessLedger } from '../process/ledger.js';
import { isServer, type ServerDescription } from '../services/description.js';
import { PortBook } from '../work-dir.js';
import { ComposeFile, Note } from './compose-file.js';
import { describeAll, type DescribedPlugin } from './compose-place.js';
import { composeHealthcheck, renderCompose } from './compose.js';
import { launchOf, nativePlace } from './native.js';

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  ports?: string[];
  profiles?: string[];
  networks?: { default: { aliases: string[] } };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'render-spec-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Descriptions in the native runner's place, over a throwaway work dir. */
async function nativeDescriptions(): Promise<DescribedPlugin[]> {
  // One place for every profile, as one runner's: the same ports for the servers they share.
  const place = nativePlace({
    workDir: dir,
    logDir: join(dir, 'logs'),
    ledger: new ProcessLedger(join(dir, 'processes')),
    ports: await PortBook.open(join(dir, 'ports.json')),
    // No relays: nothing listens; the replicas' peer env is what counts here.
    options: { profile: 'naive', workDir: dir, peerRelays: false },
  });
  return describeAll(() => place);
}

/** The compose file's services for `all`, merge keys resolved, `$$` back to `$`. */
async function composeServices(all: DescribedPlugin[]): Promise<Record<string, ComposeService>> {
  const file = new ComposeFile();
  await renderCompose(file, all);
  const text = file.toString('test');
  const doc = parse(text, { merge: true, maxAliasCount: 10_000 }) as {
    services: Record<string, ComposeService>;
  };
  return JSON.parse(JSON.stringify(doc.services).replaceAll('$$', '$')) as Record<
    string,
    ComposeService
  >;
}

/** The service a server is in compose, for `profile`. */
function serviceOf(
  services: Record<string, ComposeService>,
  server: ServerDescription,
  profile: string,
): ComposeService {
  const name = server.perProfile ? `${profile}-${server.service}` : server.service;
  const service = services[name];
  if (!service) throw new Error(`no compose service ${name}`);
  return service;
}

describe.each([
  ['the native runner', nativeDescriptions],
  ['compose', () => describeAll()],
])('every server described for %s, rendered both ways', (_place, describePlace) => {
  let all: DescribedPlugin[];
  let services: Record<string, ComposeService>;
  let servers: Array<{ profile: string; server: ServerDescription }>;
  beforeAll(async () => {
    all = await describePlace();
    services = await composeServices(all);
    servers = all.flatMap(({ profile, described }) =>
      described.units.filter(isServer).map((server) => ({ profile: profile.name, server })),
    );
  });

  it('describes the servers of every kind the issue names', () => {
    const kinds = new Set(servers.map((s) => s.server.kind));
    for (const kind of ['replica', 'nginx', 'postgres', 'redis', 'sentinel', 'memcached'])
      expect(kinds).toContain(kind);
    // Cluster nodes are Redis servers with --cluster-enabled.
    expect(servers.some((s) => s.server.command.includes('--cluster-enabled'))).toBe(true);
  });

  it('starts the same program with the same arguments natively and in compose', async () => {
    for (const { profile, server } of servers) {
      const native = await launchOf(server, server.env, false);
      const name = server.command[0] === 'node' ? 'node' : basename(native.command);
      const composed = serviceOf(services, server, profile).command;
      expect([server.service, name, ...native.args]).toEqual([server.service, ...server.command]);
      expect([server.service, composed]).toEqual([server.service, [...server.command]]);
    }
  });

  it('gives each server the same environment both ways', async () => {
    for (const { profile, server } of servers) {
      const native = await launchOf(server, server.env, false);
      const composed = serviceOf(services, server, profile).environment ?? {};
      expect([server.service, native.env]).toEqual([server.service, { ...server.env }]);
      expect([server.service, composed]).toEqual([server.service, { ...server.env }]);
    }
  });

  it('checks readiness with one probe, on the port the server listens on', () => {
    for (const { profile, server } of servers) {
      expect([server.service, server.ready.port]).toEqual([server.service, server.port]);
      // The port is on the command line or in the environment the server reads it from.
      const said = [...server.command, ...Object.values(server.env ?? {})].join(' ');
      expect([server.service, said]).toEqual([
        server.service,
        expect.stringContaining(String(server.port)),
      ]);
      const composed = serviceOf(services, server, profile).healthcheck?.test;
      const test = composeHealthcheck(server.ready).test;
      const probe = test instanceof Note ? test.value : test;
      expect([server.service, composed]).toEqual([
        server.service,
        JSON.parse(JSON.stringify(probe)) as unknown,
      ]);
      expect(JSON.stringify(composed)).toContain(String(server.port));
    }
  });

  it('publishes only the entry, on the port it listens on', () => {
    for (const { profile, server } of servers) {
      const ports = serviceOf(services, server, profile).ports ?? [];
      expect(ports.map((p) => Number(p.split(':').at(-1)))).toEqual(
        (server.publish ?? []).map((p) => p.port),
      );
    }
  });

  it('runs the same job commands both ways (a shell only around a guard or an address lookup)', () => {
    for (const { profile, described } of all)
      for (const job of described.units.filter((u) => !isServer(u))) {
        const composed = services[job.service]?.command;
        if (!composed) throw new Error(`no compose service ${job.service} in ${profile.name}`);
        if (composed[0] === 'sh')
          expect(composed[2]).toContain(`exec ${job.command.slice(0, 3).join(' ')}`);
        else expect(composed).toEqual([...job.command]);
      }
  });
});
