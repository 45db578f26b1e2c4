import { z } from 'zod';
import { sessionBackends, sessionStoreNames } from '../session/backends/index.js';

const SAMPLE_SECRET = 'change-me-to-a-long-random-string';

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * Every environment variable the app reads, with its default, except the session backend's own
 * keys: each backend brings those (its `config` in src/session/backends/), and only the chosen
 * one's are read. `.env.example` documents all of them.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  REPLICA_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'letters, digits, "_", "." or "-" (1 to 40)')
    .default('app-1'),
  PROFILE: z.string().min(1).default('standalone'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  SESSION_STORE: z.enum(sessionStoreNames).default('memory'),
  SESSION_SECRET: z
    .string()
    .min(1)
    .transform((v) => v.split(',').map((s) => s.trim()))
    .pipe(z.array(z.string().min(32, 'each secret needs at least 32 characters')).min(1)),
  SESSION_COOKIE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" or "-" (nginx reads it as $cookie_<name>)')
    .default('sid'),
  ROUTE_COOKIE: z
    .string()
    .regex(
      /^[A-Za-z0-9_]{0,40}$/,
      'letters, digits or "_" (nginx reads it as $cookie_<name>), or empty',
    )
    .default(''),
  SESSION_IDLE_TIMEOUT: seconds(30 * 60),
  SESSION_ABSOLUTE_TIMEOUT: seconds(12 * 60 * 60),
  SESSION_TOUCH_INTERVAL: seconds(60),
  TRUST_PROXY: z.string().default('loopback'),
  LOGIN_MAX_ATTEMPTS: z.coerce.number().int().positive().default(5),
  LOGIN_WINDOW: seconds(15 * 60),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i)
    .default('16kb'),
  BACKEND_TIMEOUT_MS: z.coerce.number().int().positive().default(800),
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(1024).default(19456),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});

export type Env = z.infer<typeof configSchema>;

export interface ConfigIssue {
  key: string;
  message: string;
}

/**
 * Rules that involve more than one key. Each is judged on its own keys' parsed values, so they are
 * reported even when some unrelated key is invalid: one error lists every bad key.
 */
export function crossFieldIssues(source: Record<string, string | undefined>): ConfigIssue[] {
  const value = <K extends keyof Env>(key: K): Env[K] | undefined => {
    const r = configSchema.shape[key].safeParse(source[key]);
    return r.success ? (r.data as Env[K]) : undefined;
  };
  const issues: ConfigIssue[] = [];
  const secrets = value('SESSION_SECRET');
  if (
    value('NODE_ENV') === 'production' &&
    secrets?.some((s) => s === SAMPLE_SECRET || s.includes('change-me'))
  ) {
    issues.push({
      key: 'SESSION_SECRET',
      message:
        'the sample secret is refused in production; generate one with `openssl rand -base64 48`',
    });
  }
  const idle = value('SESSION_IDLE_TIMEOUT');
  const absolute = value('SESSION_ABSOLUTE_TIMEOUT');
  if (idle !== undefined && absolute !== undefined && absolute < idle) {
    issues.push({
      key: 'SESSION_ABSOLUTE_TIMEOUT',
      message: 'must be at least SESSION_IDLE_TIMEOUT',
    });
  }
  return issues;
}

/**
 * The chosen session backend's own keys, parsed (undefined when SESSION_STORE itself is bad: that
 * is reported with the other keys). Issues name the backend, e.g. "required by SESSION_STORE=redis".
 */
export function backendConfig(source: Record<string, string | undefined>): {
  value?: unknown;
  issues: ConfigIssue[];
} {
  const store = configSchema.shape.SESSION_STORE.safeParse(source.SESSION_STORE);
  if (!store.success) return { issues: [] };
  const result = sessionBackends[store.data].config.safeParse(source);
  if (result.success) return { value: result.data, issues: [] };
  return {
    issues: result.error.issues.map((i) => {
      const key = i.path.join('.') || '(root)';
      const missing = source[key] === undefined;
      return {
        key,
        message:
          missing && i.code !== 'custom' ? `required when SESSION_STORE=${store.data}` : i.message,
      };
    }),
  };
}
