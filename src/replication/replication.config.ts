import { z } from 'zod';
import { peerList } from './channel/peers.js';
import { THREAD_PRIORITIES } from './channel/thread-priority.js';

/**
 * The peer channel's keys, for every profile whose replicas talk to each other. The runner and
 * the compose file set them per replica from the profile's replica list.
 */
export const peerChannelConfig = z.object({
  /** This replica's peer port: never proxied by nginx. */
  REPLICATION_PORT: z.coerce.number().int().min(1).max(65535),
  /** Loopback natively; the compose network's interface in Docker. */
  REPLICATION_HOST: z.string().min(1).default('127.0.0.1'),
  /** Every other replica, name=host:port (a static list: see docs/profiles/replicated.md). Empty: a lone replica. */
  REPLICATION_PEERS: peerList.default([]),
  /** Signs every frame (HMAC-SHA256). Same on every replica; generated per cluster by the runner. */
  REPLICATION_SECRET: z.string().min(32, 'at least 32 characters (openssl rand -base64 48)'),
  /**
   * Seconds a starting replica may spend fetching what its peers hold (every session under
   * DeltaManager, the locations under BackupManager) before it serves anyway, with a warning.
   */
  REPLICATION_TRANSFER_TIMEOUT: z.coerce.number().int().positive().default(60),
  /**
   * The scheduling of the peer channel's thread (see peer-io.worker.ts): realtime (SCHED_FIFO 1),
   * high (nice -10) or normal. Each needs root or CAP_SYS_NICE; the thread takes the best it may.
   */
  REPLICATION_THREAD_PRIORITY: z.enum(THREAD_PRIORITIES).default('realtime'),
});

/** DeltaManager's own keys on top of the channel's. */
export const replicatedConfig = peerChannelConfig.extend({
  /** async: answer the client at once; sync: after every live peer applied the write. */
  REPLICATION_MODE: z.enum(['async', 'sync']).default('async'),
  /** Sync mode: how long a write waits for one peer before giving up on it (logged, counted). */
  REPLICATION_SYNC_TIMEOUT_MS: z.coerce.number().int().positive().default(200),
});

/** BackupManager's own keys on top of the channel's. */
export const backupConfig = peerChannelConfig.extend({
  /** How long a write waits for the backup's acknowledgement before giving up on it (logged, counted). */
  BACKUP_ACK_TIMEOUT_MS: z.coerce.number().int().positive().default(200),
  /** How long a replica that holds only a proxy waits for the copy; past it the request gets a 503. */
  BACKUP_FETCH_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
});
