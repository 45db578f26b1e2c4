import type { CoreOptions, Replica } from '../replica.js';
import type { Locations } from './locations.js';
import type { Copies } from './copies.js';

export interface BackupOptions extends CoreOptions {
  /** How long a write waits for the backup's acknowledgement (then it is logged and counted). */
  ackTimeoutMs: number;
  /** How long a proxy holder waits for the copy; past it the request gets a 503, not a hang. */
  fetchTimeoutMs: number;
  /**
   * How long a graceful leave may hand copies on (LEAVE_BUDGET_MS where absent): past it the
   * replica goes, and the other holders re-back-up what is left, as after a crash.
   */
  leaveBudgetMs?: number;
}

/** The copy could not be fetched in time (a holder that does not answer): a 503, not a hang. */
export class HoldersUnavailable extends Error {
  override readonly name = 'HoldersUnavailable';
}

export type Role = 'primary' | 'backup' | 'proxy';

/** Counters for /health/ready, the benchmark and the tests. */
export interface BackupStats {
  /** Messages sent, one per receiver, by type (copy, delta, accessed, loc, gone, take, …). */
  sent: Record<string, number>;
  /** A backup holder became primary: its client was sent to it, or its primary left. */
  promotions: number;
  /** A proxy holder fetched the copy and became primary (the backup stayed backup). */
  takeovers: number;
  /** This replica handed its copy to a proxy holder that took over. */
  handovers: number;
  /** A primary picked a new backup (the old one left, or there was none). */
  rebackups: number;
  /** Sessions this replica handed on when it left gracefully (scale-in, a planned stop). */
  handedOn: number;
  /** Sessions whose primary and backup were both gone (as this proxy holder saw it). */
  lost: number;
  ackTimeouts: number;
  fetchFailures: number;
  /** Locations received from a peer at start. */
  transferred: number;
}

/**
 * What the parts of the backup manager share: the replica's own state, the location table, the
 * sending of copies, the counters, and where the replica is in its life (copying the locations
 * at start, serving, or handing its copies on before it goes).
 */
export interface BackupContext {
  readonly r: Replica;
  readonly o: BackupOptions;
  readonly stats: BackupStats;
  readonly locs: Locations;
  readonly copies: Copies;
  phase: 'starting' | 'serving' | 'leaving';
}
