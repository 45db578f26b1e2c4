import type { InjectionToken, ModuleMetadata } from '@nestjs/common';
import type { Store } from 'express-session';
import type { z } from 'zod';
import type { CookieSeal } from '../sealed/cookie-seal.js';
import type { Revocations } from '../sealed/cookie-session.js';
import type { AttemptCounter, SessionRegistry } from '../session.types.js';

/** Whether a feature sees the whole cluster, or only the replica it runs on. */
export type Scope = 'cluster' | 'replica';
/** The session list's scope; `none` where the server keeps no sessions to list. */
export type ListScope = Scope | 'none';

/** What every backend is given when it is created, whatever else it asks for. */
export interface BackendDeps<Config> {
  /** Its own configuration keys, parsed and validated with the rest of the app's (see `config`). */
  config: Config;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  /** Upper bound for one backend call; past it the request gets a 503. */
  timeoutMs: number;
  /** SESSION_SECRET, newest first: for a backend that seals sessions into their cookie. */
  secrets: readonly string[];
  /** The replica's name (REPLICA_NAME). */
  replica: string;
  /** For failures that concern no single request (a lost connection, a failed background job). */
  onError: (message: string, err: unknown) => void;
}

/** One place a session lives: a replica or a store, and in what role there. */
export interface Placement {
  /** A replica's name, or the store ("Redis"). */
  holder: string;
  /** e.g. "the only copy, in its memory", "shared by every replica". */
  role: string;
}

/**
 * Where a session is kept between requests: in a `store`, under the id its cookie carries (the
 * express-session model: the cookie is a signed id), or `sealed` into the cookie itself, the
 * replicas keeping nothing (a denylist of revoked sessions at most).
 */
export type SessionKeeping =
  | { readonly store: Store; readonly sealed?: never }
  | {
      readonly sealed: { seal: CookieSeal; revocations?: Revocations };
      readonly store?: never;
    };

/** A created backend: what the app uses on every request. */
export type SessionBackend = SessionKeeping & SessionServices;

/** What every backend gives besides where it keeps sessions. */
export interface SessionServices {
  readonly registry: SessionRegistry;
  readonly attempts: AttemptCounter;
  /**
   * Runs once the app is up, before the replica may report ready: e.g. receiving the sessions a
   * peer holds. Readiness says "starting" until it resolves.
   */
  start?(): Promise<void>;
  /**
   * Where the session with this public id lives and in which role, as the backend knows it (the
   * profile page shows it). Empty when this replica knows no such session.
   */
  locate(publicId: string): Promise<Placement[]>;
  /**
   * Sessions this replica itself holds, by role (the cluster dashboard shows them); undefined
   * when they all live in a store outside the replicas.
   */
  held?(): Record<string, number>;
  /** Resolves when the backend can serve requests now; used by /health/ready. */
  ready(): Promise<void>;
  /** Counters for /health/ready and the benchmark (e.g. peer messages sent), if it keeps any. */
  stats?(): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * A session backend, one per file in this folder: everything the app, the cluster runner, the
 * compose generator and the tests need to know about it. A profile names one by `name`.
 */
export interface SessionBackendRecord<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  /** One line: where sessions live. */
  summary: string;
  /**
   * Its own environment keys, as a zod object. They are validated with the app's other keys (one
   * error lists every bad key), but only when this backend is chosen (SESSION_STORE).
   */
  config: z.ZodObject<Shape>;
  /**
   * Servers the runner starts for it: plugin names in cluster/services/. Postgres runs in every
   * profile; a backend that keeps its sessions there names it too (its restart is a store restart).
   */
  services: readonly string[];
  /**
   * Whether the session list and the login-attempt counter see every replica, or one; a backend
   * that keeps no sessions has no list (`none`: it shows the caller's own session only).
   */
  scope: { sessionList: ListScope; loginLimit: Scope };
  /**
   * Sessions live sealed in their own cookies (create() returns `sealed`): no replica and no store
   * holds them, whatever servers the backend runs for other state (a denylist).
   */
  inCookie?: boolean;
  /**
   * Its replicas talk to each other over a peer channel: the runner and the compose file give
   * each replica a peer port and the others' addresses (REPLICATION_* keys).
   */
  peerChannel?: boolean;
  /**
   * With a peer channel: how many replicas hold a session. `every-replica`: each holds a copy
   * (`replicated`); `primary-backup`: two hold a copy, the others only its location (`backup`).
   * The benchmark measures each by its own figures and targets (T8/T9, T10).
   */
  copies?: 'every-replica' | 'primary-backup';
  /** Nest modules whose providers it needs (e.g. a peer channel between replicas). */
  imports?: ModuleMetadata['imports'];
  /** Providers its create() is given after the common deps, in this order (e.g. the DataSource). */
  inject?: readonly InjectionToken[];
  /** A Nest async factory: the returned backend is the app's SESSION_BACKEND. */
  create(
    deps: BackendDeps<z.infer<z.ZodObject<Shape>>>,
    ...injected: never[]
  ): Promise<SessionBackend>;
  /** True for an error that means "this backend is unreachable now": the request gets a 503. */
  isOutage: (err: unknown) => boolean;
}

/** Declares a backend record; the identity function, there for the types. */
export function defineBackend<Shape extends z.ZodRawShape>(
  record: SessionBackendRecord<Shape>,
): SessionBackendRecord<Shape> {
  return record;
}
