import { housekeeping, managerBasics, openPeerChannel } from '../../replication/peer-backend.js';
import { replicatedConfig } from '../../replication/replication.config.js';
import {
  ReplicatedAttemptCounter,
  ReplicatedSessionRegistry,
} from '../../replication/stores/replicated-registry.js';
import { ReplicatedSessionStore } from '../../replication/stores/replicated-store.js';
import { LoopDelay } from '../../replication/channel/loop-delay.js';
import { SessionReplicator } from '../../replication/core/replicated/session-replicator.js';
import { defineBackend } from './backend.js';

/**
 * Every replica holds every session, copied to the others over the peer channel (Tomcat's
 * DeltaManager): no store server at all, any replica serves any request, a crash loses nothing
 * — at the price of every session in every replica's memory and a message per write per peer.
 */
export const replicatedBackend = defineBackend({
  name: 'replicated',
  summary: 'every replica, copied to the others over the peer channel',
  config: replicatedConfig,
  services: [],
  scope: { sessionList: 'cluster', loginLimit: 'cluster' },
  peerChannel: true,
  copies: 'every-replica',
  async create(deps) {
    const c = deps.config;
    const { channel, log } = openPeerChannel(c, deps.replica, 'replication');
    const replicator = new SessionReplicator(channel, {
      mode: c.REPLICATION_MODE,
      syncTimeoutMs: c.REPLICATION_SYNC_TIMEOUT_MS,
      ...managerBasics(c, deps.idleTimeoutMs, log),
    });
    const chores = housekeeping(replicator);
    const loopDelay = new LoopDelay();
    return {
      store: new ReplicatedSessionStore(replicator, deps),
      registry: new ReplicatedSessionRegistry(replicator),
      attempts: new ReplicatedAttemptCounter(replicator),
      async start() {
        await channel.start();
        await replicator.start();
        chores.start();
        loopDelay.start();
      },
      // Here a copy, and one on every peer this replica is connected to (each applied or is
      // applying the same messages): what this replica knows, without asking anyone.
      locate: async (id) =>
        replicator.map.has(id, Date.now())
          ? [
              { holder: deps.replica, role: 'a full copy, serving this request' },
              ...channel.livePeers().map((peer) => ({ holder: peer, role: 'a full copy' })),
            ]
          : [],
      held: () => ({ 'full copies': replicator.map.size(Date.now()) }),
      ready: async () => {
        if (!replicator.ready) throw new Error('state transfer in progress');
      },
      stats: () => {
        // What every read here would see: the frames already received included.
        replicator.catchUp();
        return {
          mode: c.REPLICATION_MODE,
          sessions: replicator.map.size(Date.now()),
          digest: replicator.map.digest(),
          livePeers: channel.livePeers(),
          ...channel.traffic.snapshot(),
          ...replicator.stats,
          lagBuckets: replicator.lag.snapshot(),
          appliedBuckets: replicator.applied.snapshot(),
          handlingBuckets: replicator.handling.snapshot(),
          loopDelayBuckets: loopDelay.histogram.snapshot(),
        };
      },
      close: async () => {
        loopDelay.stop();
        chores.stop();
        await channel.close();
      },
    };
  },
  // Sessions are in memory: nothing to be unreachable (a missing peer only delays replication).
  isOutage: () => false,
});
