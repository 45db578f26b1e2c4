import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { sessionBackends } from '../session/backends/index.js';
import { AppConfig, ConfigError } from './app-config.js';
import { configSchema } from './config.schema.js';

const SECRET_A = 'a'.repeat(32);
const SECRET_B = 'b'.repeat(40);
/** The smallest environment that parses: the two keys without a default. */
const minimal = { DATABASE_URL: 'postgres://app:pw@localhost:5432/app', SESSION_SECRET: SECRET_A };

/** Parses and returns the ConfigError message (fails the test if parsing succeeds). */
function configErrorOf(env: Record<string, string | undefined>): string {
  try {
    AppConfig.fromEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected AppConfig.fromEnv to throw');
}

describe('AppConfig.fromEnv', () => {
  it('fills every optional key with its documented default', () => {
    const config = AppConfig.fromEnv(minimal);

    expect(config).toMatchObject({
      env: 'development',
      host: '127.0.0.1',
      port: 3000,
      replicaName: 'app-1',
      profile: 'standalone',
      databaseUrl: minimal.DATABASE_URL,
      trustProxy: 'loopback',
      bodyLimit: '16kb',
      logLevel: 'log',
      backendTimeoutMs: 800,
      argon2MemoryKib: 19456,
      login: { maxAttempts: 5, windowMs: 15 * 60 * 1000 },
    });
    // Timeouts are given in seconds and kept in milliseconds.
    expect(config.session).toEqual({
      store: 'memory',
      backend: {},
      secrets: [SECRET_A],
      cookieName: 'sid',
      idleTimeoutMs: 30 * 60 * 1000,
      absoluteTimeoutMs: 12 * 60 * 60 * 1000,
      touchIntervalMs: 60 * 1000,
    });
    expect(config.production).toBe(false);
  });

  it('coerces numeric strings and converts seconds to milliseconds', () => {
    const config = AppConfig.fromEnv({
      ...minimal,
      PORT: '8081',
      SESSION_IDLE_TIMEOUT: '90',
      SESSION_ABSOLUTE_TIMEOUT: '3600',
      LOGIN_MAX_ATTEMPTS: '7',
      LOGIN_WINDOW: '30',
    });

    expect(config.port).toBe(8081);
    expect(config.session.idleTimeoutMs).toBe(90_000);
    expect(config.session.absoluteTimeoutMs).toBe(3_600_000);
    expect(config.login).toEqual({ maxAttempts: 7, windowMs: 30_000 });
  });

  it('sets no route cookie unless ROUTE_COOKIE names one', () => {
    expect(AppConfig.fromEnv(minimal).routeCookie).toBeUndefined();
    expect(AppConfig.fromEnv({ ...minimal, ROUTE_COOKIE: 'route' }).routeCookie).toBe('route');
  });

  it('splits a comma-separated SESSION_SECRET into a list, trimmed, the first one signing', () => {
    const config = AppConfig.fromEnv({ ...minimal, SESSION_SECRET: `${SECRET_B} , ${SECRET_A}` });

    expect(config.session.secrets).toEqual([SECRET_B, SECRET_A]);
    // express-session signs with secrets[0] and verifies with all of them (rotation).
    expect(config.session.secrets[0]).toBe(SECRET_B);
  });

  it('names every bad key in one error, not just the first', () => {
    const message = configErrorOf({
      ...minimal,
      PORT: 'not-a-port',
      SESSION_COOKIE_NAME: 'connect.sid', // a dot: nginx could not read it as $cookie_<name>
      LOG_LEVEL: 'loud',
      ROUTE_COOKIE: 'route-id', // a dash: not a valid nginx variable name either
    });

    expect(message).toMatch(/^Invalid configuration:/);
    expect(message).toContain('PORT');
    expect(message).toContain('SESSION_COOKIE_NAME');
    expect(message).toContain('LOG_LEVEL');
    expect(message).toContain('ROUTE_COOKIE');
    // One line per problem.
    expect(message.split('\n').filter((l) => l.startsWith('  - '))).toHaveLength(4);
  });

  it('reports rules across keys even when another key is invalid', () => {
    const message = configErrorOf({
      SESSION_STORE: 'redis',
      SESSION_SECRET: 'x'.repeat(40),
      PORT: 'abc',
    });
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('PORT');
    expect(message).toContain('REDIS_URL: required when SESSION_STORE=redis');
  });

  it('requires DATABASE_URL and SESSION_SECRET (no defaults for them)', () => {
    const message = configErrorOf({});

    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('SESSION_SECRET');
  });

  it('refuses a DATABASE_URL that is not a postgres URL', () => {
    expect(configErrorOf({ ...minimal, DATABASE_URL: 'mysql://localhost/app' })).toContain(
      'DATABASE_URL',
    );
  });

  it('refuses the sample secret in production', () => {
    const message = configErrorOf({
      ...minimal,
      NODE_ENV: 'production',
      SESSION_SECRET: 'change-me-to-a-long-random-string',
    });

    expect(message).toContain('SESSION_SECRET');
    expect(message).toContain('refused in production');
  });

  it('refuses the sample secret in production even as an old secret kept for rotation', () => {
    const message = configErrorOf({
      ...minimal,
      NODE_ENV: 'production',
      SESSION_SECRET: `${SECRET_B},change-me-to-a-long-random-string`,
    });

    expect(message).toContain('refused in production');
  });

  it('accepts the sample secret outside production (the demo runs with it)', () => {
    const config = AppConfig.fromEnv({
      ...minimal,
      SESSION_SECRET: 'change-me-to-a-long-random-string',
    });

    expect(config.session.secrets).toEqual(['change-me-to-a-long-random-string']);
  });

  it('accepts a real secret in production', () => {
    const config = AppConfig.fromEnv({
      ...minimal,
      NODE_ENV: 'production',
      SESSION_SECRET: SECRET_B,
    });

    expect(config.production).toBe(true);
  });

  it('refuses a secret shorter than 32 characters, also when it is not the first of the list', () => {
    expect(configErrorOf({ ...minimal, SESSION_SECRET: 'short' })).toContain(
      'at least 32 characters',
    );
    expect(
      configErrorOf({ ...minimal, SESSION_SECRET: `${SECRET_A},${'c'.repeat(31)}` }),
    ).toContain('at least 32 characters');
  });

  it('refuses an empty entry in the secret list', () => {
    expect(configErrorOf({ ...minimal, SESSION_SECRET: `${SECRET_A},,${SECRET_B}` })).toContain(
      'SESSION_SECRET',
    );
  });

  it('requires REDIS_URL when SESSION_STORE=redis', () => {
    const message = configErrorOf({ ...minimal, SESSION_STORE: 'redis' });

    expect(message).toContain('REDIS_URL');
    expect(message).toContain('required when SESSION_STORE=redis');
  });

  it('accepts SESSION_STORE=redis with a redis:// URL', () => {
    const config = AppConfig.fromEnv({
      ...minimal,
      SESSION_STORE: 'redis',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });

    expect(config.session.store).toBe('redis');
    expect(config.session.backend).toEqual({ REDIS_URL: 'redis://127.0.0.1:6379' });
  });

  it("checks the backend's own keys by its schema and names the bad value", () => {
    const message = configErrorOf({
      ...minimal,
      SESSION_STORE: 'redis',
      REDIS_URL: 'http://127.0.0.1:6379',
    });
    expect(message).toContain('REDIS_URL: a redis:// or rediss:// URL');
  });

  it("reads only the chosen backend's keys: another backend's are ignored, even when bad", () => {
    const config = AppConfig.fromEnv({ ...minimal, REDIS_URL: 'not a url' });
    expect(config.session).toMatchObject({ store: 'memory', backend: {} });
  });

  it('refuses a SESSION_STORE that names no backend', () => {
    expect(configErrorOf({ ...minimal, SESSION_STORE: 'memcached' })).toContain('SESSION_STORE');
  });

  it('refuses an absolute session lifetime shorter than the idle timeout', () => {
    const message = configErrorOf({
      ...minimal,
      SESSION_IDLE_TIMEOUT: '600',
      SESSION_ABSOLUTE_TIMEOUT: '60',
    });

    expect(message).toContain('SESSION_ABSOLUTE_TIMEOUT');
  });

  it('reads process.env when no source is given', () => {
    const saved = process.env;
    process.env = { ...saved, ...minimal, REPLICA_NAME: 'app-from-env' };
    try {
      expect(AppConfig.fromEnv().replicaName).toBe('app-from-env');
    } finally {
      process.env = saved;
    }
  });
});

describe('.env.example', () => {
  const documented = new Set(
    [
      ...readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').matchAll(
        /^([A-Z][A-Z0-9_]*)=/gm,
      ),
    ].flatMap((m) => m.slice(1, 2)),
  );

  it("documents every key the app reads, each backend's own keys included", () => {
    const keys = [
      ...Object.keys(configSchema.shape),
      ...Object.values(sessionBackends).flatMap((b) => Object.keys(b.config.shape)),
    ];
    expect(keys.filter((k) => !documented.has(k))).toEqual([]);
  });

  it('documents nothing the app does not read', () => {
    const read = new Set([
      ...Object.keys(configSchema.shape),
      ...Object.values(sessionBackends).flatMap((b) => Object.keys(b.config.shape)),
    ]);
    expect([...documented].filter((k) => !read.has(k))).toEqual([]);
  });
});
