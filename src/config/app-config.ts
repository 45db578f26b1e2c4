import { backendConfig, configSchema, crossFieldIssues, type Env } from './config.schema.js';

/** Typed, validated configuration. The only place in the app that reads `process.env`. */
export class AppConfig {
  readonly env: Env['NODE_ENV'];
  readonly host: string;
  readonly port: number;
  readonly replicaName: string;
  readonly profile: string;
  readonly databaseUrl: string;
  readonly trustProxy: string;
  readonly bodyLimit: string;
  readonly logLevel: Env['LOG_LEVEL'];
  /** How long a call to Postgres or Redis may take before the request gets a 503. */
  readonly backendTimeoutMs: number;
  readonly argon2MemoryKib: number;
  readonly session: {
    store: Env['SESSION_STORE'];
    /** The chosen backend's own keys, parsed by its `config` schema. */
    backend: unknown;
    /** First signs new cookies; all verify (rotation without logging anyone out). */
    secrets: string[];
    cookieName: string;
    idleTimeoutMs: number;
    absoluteTimeoutMs: number;
    touchIntervalMs: number;
  };
  readonly login: { maxAttempts: number; windowMs: number };
  /** The cookie that pins a client to a replica, set when nginx routes by it; none otherwise. */
  readonly routeCookie: string | undefined;

  constructor(e: Env, backend: unknown = {}) {
    this.env = e.NODE_ENV;
    this.host = e.HOST;
    this.port = e.PORT;
    this.replicaName = e.REPLICA_NAME;
    this.profile = e.PROFILE;
    this.databaseUrl = e.DATABASE_URL;
    this.trustProxy = e.TRUST_PROXY;
    this.bodyLimit = e.BODY_LIMIT;
    this.logLevel = e.LOG_LEVEL;
    this.backendTimeoutMs = e.BACKEND_TIMEOUT_MS;
    this.argon2MemoryKib = e.ARGON2_MEMORY_KIB;
    this.session = {
      store: e.SESSION_STORE,
      backend,
      secrets: e.SESSION_SECRET,
      cookieName: e.SESSION_COOKIE_NAME,
      idleTimeoutMs: e.SESSION_IDLE_TIMEOUT * 1000,
      absoluteTimeoutMs: e.SESSION_ABSOLUTE_TIMEOUT * 1000,
      touchIntervalMs: e.SESSION_TOUCH_INTERVAL * 1000,
    };
    this.login = { maxAttempts: e.LOGIN_MAX_ATTEMPTS, windowMs: e.LOGIN_WINDOW * 1000 };
    this.routeCookie = e.ROUTE_COOKIE || undefined;
  }

  get production(): boolean {
    return this.env === 'production';
  }

  /** Parses the environment once; throws one error that lists every bad key. */
  static fromEnv(source: Record<string, string | undefined> = process.env): AppConfig {
    const result = configSchema.safeParse(source);
    const backend = backendConfig(source);
    const issues = [
      ...(result.success
        ? []
        : result.error.issues.map((i) => ({
            key: i.path.join('.') || '(root)',
            message: i.message,
          }))),
      ...backend.issues,
      ...crossFieldIssues(source),
    ];
    if (issues.length || !result.success) {
      const lines = issues.map((i) => `  - ${i.key}: ${i.message}`);
      throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
    }
    return new AppConfig(result.data, backend.value);
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}
