import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { z } from 'zod';
import { defined } from '../common/defined.js';
import {
  DnsMembership,
  FileMembership,
  StaticMembership,
  type Membership,
} from './channel/membership.js';
import { PeerChannel } from './channel/peer-channel.js';
import type { CoreOptions, ReplicationLog } from './core/replica.js';
import type { peerChannelConfig } from './replication.config.js';

/** Wall time in ms with a fraction (Date.now() has whole ms only): the core's clock, and lag's. */
const wallClockMs = (): number => performance.timeOrigin + performance.now();

/** Accessed-times batch: one message per peer per second at most, however many reads. */
const ACCESS_FLUSH_MS = 1000;
const SWEEP_MS = 10_000;
/** A tombstone outlives the session's idle timeout by this much: past any late message. */
const TOMBSTONE_GRACE_MS = 60_000;

/** The membership source the config names (see channel/membership.ts). */
export function membershipOf(
  config: z.infer<typeof peerChannelConfig>,
  replica: string,
  log: (message: string, detail: Record<string, unknown>) => void,
): Membership {
  const every = config.REPLICATION_MEMBERSHIP_INTERVAL_MS;
  switch (config.REPLICATION_MEMBERSHIP) {
    case 'static':
      return new StaticMembership(config.REPLICATION_PEERS);
    case 'file':
      return new FileMembership(
        defined(
          config.REPLICATION_MEMBERS_FILE,
          'REPLICATION_MEMBERS_FILE (the config schema requires it)',
        ),
        replica,
        every,
        log,
      );
    case 'dns':
      return new DnsMembership(
        defined(
          config.REPLICATION_DNS_NAME,
          'REPLICATION_DNS_NAME (the config schema requires it)',
        ),
        config.REPLICATION_PORT,
        config.REPLICATION_DNS_SERVER,
        every,
        log,
      );
  }
}

/**
 * What every backend whose replicas talk to each other starts with: a logger under its name and
 * the peer channel built from the channel's config keys (the replication managers run on it).
 */
export function openPeerChannel(
  config: z.infer<typeof peerChannelConfig>,
  replica: string,
  loggerName: string,
): { channel: PeerChannel; log: ReplicationLog } {
  const logger = new Logger(loggerName);
  const log: ReplicationLog = (level, message, detail = {}) => {
    logger[level]({ msg: message, ...detail });
  };
  const channel = new PeerChannel({
    self: replica,
    host: config.REPLICATION_HOST,
    port: config.REPLICATION_PORT,
    peers: membershipOf(config, replica, (message, detail) => {
      log('log', message, detail);
    }),
    secret: config.REPLICATION_SECRET,
    threadPriority: config.REPLICATION_THREAD_PRIORITY,
    log: (message, detail) => {
      log('warn', message, detail);
    },
  });
  return { channel, log };
}

/** The options every replication manager (DeltaManager- or BackupManager-like) shares. */
export function managerBasics(
  config: z.infer<typeof peerChannelConfig>,
  idleTimeoutMs: number,
  log: ReplicationLog,
): CoreOptions {
  return {
    transferTimeoutMs: config.REPLICATION_TRANSFER_TIMEOUT * 1000,
    discoveryMs: 3000,
    requestTimeoutMs: 10_000,
    tombstoneMs: idleTimeoutMs + TOMBSTONE_GRACE_MS,
    now: Date.now,
    clockNow: wallClockMs,
    // The core's only wait (looking for a ready peer, the start's time limit): an unref'd timer.
    sleep: (ms) => sleep(ms, undefined, { ref: false }),
    log,
  };
}

/** A manager's timers: batched last-seen times out, expired sessions and tombstones swept. */
export function housekeeping(manager: { flushAccesses(): void; sweep(): void }) {
  const timers: NodeJS.Timeout[] = [];
  return {
    start() {
      timers.push(
        setInterval(() => {
          manager.flushAccesses();
        }, ACCESS_FLUSH_MS),
        setInterval(() => {
          manager.sweep();
        }, SWEEP_MS),
      );
      timers.forEach((t) => t.unref());
    },
    /** Stops the timers and sends the last batch. */
    stop() {
      timers.forEach(clearInterval);
      manager.flushAccesses();
    },
  };
}
