import { z } from 'zod';
import { MEMBERSHIP_KINDS } from './channel/membership.js';
import { peerList } from './channel/peers.js';
import { DEFAULT_THREAD_PRIORITY, THREAD_PRIORITIES } from './channel/thread-priority.js';

/**
 * The peer channel's keys, for every profile whose replicas talk to each other. The runner and
 * the compose file set them per replica from the profile's replica list.
 */
const hostPort = z
  .string()
  .regex(
    /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/,
    'host:port (a DNS server, e.g. 127.0.0.11:53)',
  );

/** An optional key: unset, or empty as in `.env.example`, is absent. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

export const peerChannelConfig = z
  .object({
    /** This replica's peer port: never proxied by nginx. */
    REPLICATION_PORT: z.coerce.number().int().min(1).max(65535),
    /** Loopback natively; the compose network's interface in Docker. */
    REPLICATION_HOST: z.string().min(1).default('127.0.0.1'),
    /**
     * How a replica finds its peers (channel/membership.ts): `static`, the list below, fixed at
     * start; `file`, a file of name=host:port lines re-read on an interval (the native runner's,
     * which rewrites it when it scales); `dns`, every address behind one name (a compose network
     * alias, a Kubernetes headless Service), each on REPLICATION_PORT.
     */
    REPLICATION_MEMBERSHIP: z.enum(MEMBERSHIP_KINDS).default('static'),
    /** `static`: every other replica, name=host:port. Empty: a lone replica. */
    REPLICATION_PEERS: peerList.default([]),
    /** `file`: the members file. */
    REPLICATION_MEMBERS_FILE: optional(z.string()),
    /** `dns`: the name every replica's address is listed under. */
    REPLICATION_DNS_NAME: optional(z.string()),
    /** `dns`: the DNS server to ask (host:port); the system's resolver when unset. */
    REPLICATION_DNS_SERVER: optional(hostPort),
    /** `file`, `dns`: how often the members are read again. A member gone is dropped by then. */
    REPLICATION_MEMBERSHIP_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
    /** Signs every frame (HMAC-SHA256). Same on every replica; generated per cluster by the runner. */
    REPLICATION_SECRET: z.string().min(32, 'at least 32 characters (openssl rand -base64 48)'),
    /**
     * Seconds a starting replica may spend fetching what its peers hold (every session under
     * DeltaManager, the locations under BackupManager) before it serves anyway, with a warning.
     */
    REPLICATION_TRANSFER_TIMEOUT: z.coerce.number().int().positive().default(60),
    /**
     * The scheduling of the peer channel's thread (see peer-io.worker.ts): realtime (SCHED_FIFO 1),
     * high (nice -10) or normal (the default). The first two need root or CAP_SYS_NICE; the thread
     * takes the best it may.
     */
    REPLICATION_THREAD_PRIORITY: z.enum(THREAD_PRIORITIES).default(DEFAULT_THREAD_PRIORITY),
  })
  .superRefine((c, ctx) => {
    if (c.REPLICATION_MEMBERSHIP === 'file' && !c.REPLICATION_MEMBERS_FILE)
      ctx.addIssue({
        code: 'custom',
        path: ['REPLICATION_MEMBERS_FILE'],
        message: 'required with REPLICATION_MEMBERSHIP=file',
      });
    if (c.REPLICATION_MEMBERSHIP === 'dns' && !c.REPLICATION_DNS_NAME)
      ctx.addIssue({
        code: 'custom',
        path: ['REPLICATION_DNS_NAME'],
        message: 'required with REPLICATION_MEMBERSHIP=dns',
      });
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
