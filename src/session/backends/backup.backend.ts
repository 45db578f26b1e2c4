import { housekeeping, managerBasics, openPeerChannel } from '../../replication/peer-backend.js';
import { BackupManager, HoldersUnavailable } from '../../replication/core/backup/backup-manager.js';
import { BackupSessionRegistry } from '../../replication/stores/backup-registry.js';
import { backupConfig } from '../../replication/replication.config.js';
import { ReplicatedAttemptCounter } from '../../replication/stores/replicated-registry.js';
import { ReplicatedSessionStore } from '../../replication/stores/replicated-store.js';
import { defineBackend, type Placement } from './backend.js';

const ROLE_TEXT = {
  primary: 'primary: serves it (the route cookie pins its client here), a full copy',
  backup: 'backup: a full copy, receives every change',
  proxy: 'proxy: knows where the copies are, holds no value',
};

/**
 * One primary and one backup per session, a proxy everywhere else (Tomcat's BackupManager): two
 * copies whatever the cluster size, a message per write to the backup only. The route cookie
 * pins a client to its session's primary; after a crash, nginx's failover target takes over.
 */
export const backupBackend = defineBackend({
  name: 'backup',
  summary: 'a primary and a backup replica per session, a proxy on the others',
  config: backupConfig,
  services: [],
  scope: { sessionList: 'cluster', loginLimit: 'cluster' },
  peerChannel: true,
  copies: 'primary-backup',
  async create(deps) {
    const c = deps.config;
    const { channel, log } = openPeerChannel(c, deps.replica, 'backup');
    const manager = new BackupManager(channel, {
      ackTimeoutMs: c.BACKUP_ACK_TIMEOUT_MS,
      fetchTimeoutMs: c.BACKUP_FETCH_TIMEOUT_MS,
      ...managerBasics(c, deps.idleTimeoutMs, log),
    });
    const chores = housekeeping(manager);
    return {
      store: new ReplicatedSessionStore(manager, deps),
      registry: new BackupSessionRegistry(manager),
      attempts: new ReplicatedAttemptCounter(manager),
      async start() {
        await channel.start();
        await manager.start();
        chores.start();
      },
      // As this replica knows it: the primary, the backup, and a proxy on every other live replica.
      locate: async (id) => {
        const loc = manager.locationOf(id);
        if (!loc) return [];
        const out: Placement[] = [{ holder: loc.primary, role: ROLE_TEXT.primary }];
        if (loc.backup) out.push({ holder: loc.backup, role: ROLE_TEXT.backup });
        for (const r of [deps.replica, ...channel.livePeers()].sort())
          if (r !== loc.primary && r !== loc.backup) out.push({ holder: r, role: ROLE_TEXT.proxy });
        return out;
      },
      held: () => manager.held(),
      ready: async () => {
        if (!manager.ready) throw new Error('receiving the locations from a peer');
      },
      stats: () => ({
        held: manager.held(),
        livePeers: channel.livePeers(),
        ...channel.traffic.snapshot(),
        ...manager.stats,
      }),
      // A graceful stop (scale-in, a rolling restart) hands on every copy it holds first.
      close: async () => {
        chores.stop();
        const handed = await manager.leave();
        if (handed) log('log', 'left the cluster: copies handed on', { sessions: handed });
        await channel.close();
      },
    };
  },
  // Sessions are in memory; only a holder that does not hand over a copy in time is an outage.
  isOutage: (err) => err instanceof HoldersUnavailable,
});
