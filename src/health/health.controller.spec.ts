import { describe, expect, it } from '@jest/globals';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import type { SessionBackend } from '../session/backends/backend.js';
import { SessionBackendState } from '../session/session.module.js';
import { HealthController } from './health.controller.js';
import { ShutdownState } from './shutdown-state.js';

const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app@localhost/app',
  SESSION_SECRET: 's'.repeat(32),
  BACKEND_TIMEOUT_MS: '50',
});

function controller(o: {
  state?: Partial<SessionBackendState>;
  ready?: () => Promise<void>;
  database?: () => Promise<unknown>;
  draining?: boolean;
  stats?: () => Record<string, unknown>;
}) {
  const shutdown = new ShutdownState();
  shutdown.draining = o.draining ?? false;
  const backend = {
    ready: o.ready ?? (async () => undefined),
    stats: o.stats,
  } as unknown as SessionBackend;
  return new HealthController(
    config,
    { query: o.database ?? (async () => [{ '?column?': 1 }]) } as unknown as DataSource,
    backend,
    Object.assign(new SessionBackendState(backend), { status: 'started' }, o.state),
    shutdown,
  );
}

async function ready(c: HealthController, headers: Record<string, string> = {}) {
  let status = 0;
  const res = {
    status: (code: number) => ((status = code), res),
    req: { headers },
  } as unknown as Response;
  const body = await c.ready(res);
  return { status, body };
}

describe('HealthController.ready', () => {
  it('is 200 when the backend has started and it and the database answer', async () => {
    const { status, body } = await ready(controller({}));
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      checks: { database: { ok: true }, sessionStore: { backend: 'memory', ok: true } },
    });
  });

  it('is 503 while the backend is still starting (e.g. receiving state), without asking it', async () => {
    let asked = false;
    const c = controller({
      state: { status: 'starting' },
      ready: async () => void (asked = true),
    });
    const { status, body } = await ready(c);
    expect(status).toBe(503);
    expect(body.checks.sessionStore).toMatchObject({ ok: false, error: 'starting' });
    expect(asked).toBe(false);
  });

  it('is 503 with the reason when the backend failed to start', async () => {
    const c = controller({ state: { status: 'failed', error: 'no peer answered' } });
    const { status, body } = await ready(c);
    expect(status).toBe(503);
    expect(body.checks.sessionStore).toMatchObject({
      ok: false,
      error: 'failed to start: no peer answered',
    });
  });

  it('is 503 when the backend does not answer within the backend timeout', async () => {
    const c = controller({ ready: () => new Promise(() => undefined) });
    const { status, body } = await ready(c);
    expect(status).toBe(503);
    expect(body.checks.sessionStore).toMatchObject({ ok: false, error: 'timed out' });
  });

  it('is 503 "shutting-down" while draining, even with every check fine', async () => {
    const { status, body } = await ready(controller({ draining: true }));
    expect(status).toBe(503);
    expect(body.status).toBe('shutting-down');
  });

  it("shows the backend's counters to whoever asks a replica directly, not through nginx", async () => {
    const c = controller({ stats: () => ({ sessions: 3 }) });
    expect((await ready(c)).body.checks.sessionStore).toMatchObject({ stats: { sessions: 3 } });
    const proxied = await ready(c, { 'x-forwarded-for': '203.0.113.9' });
    expect(proxied.body.checks.sessionStore).not.toHaveProperty('stats');
  });
});
