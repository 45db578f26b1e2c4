import { Logger } from '@nestjs/common';
import type { z } from 'zod';
import { PeerChannel } from './channel/peer-channel.js';
import type { peerChannelConfig } from './replication.config.js';

export type ReplicationLog = (
  level: 'log' | 'warn',
  message: string,
  detail?: Record<string, unknown>,
) => void;

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
  const log: ReplicationLog = (level, message, detail = {}) =>
    logger[level]({ msg: message, ...detail });
  const channel = new PeerChannel({
    self: replica,
    host: config.REPLICATION_HOST,
    port: config.REPLICATION_PORT,
    peers: config.REPLICATION_PEERS,
    secret: config.REPLICATION_SECRET,
    log: (message, detail) => log('warn', message, detail),
  });
  return { channel, log };
}
