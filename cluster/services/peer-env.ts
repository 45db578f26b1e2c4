import { note } from '../compose-file.js';

/** The peer port every replica listens on inside its container (never published, never proxied). */
export const COMPOSE_PEER_PORT = 4000;

/**
 * REPLICATION_* of one replica in compose: it listens on the compose network, and reaches each
 * peer by its network alias. The secret comes from the environment only: nothing committed holds
 * one, and without it the replicas refuse to start (config validation names the key).
 */
export function composePeerEnv(replica: string, replicas: readonly string[]) {
  return {
    REPLICATION_PORT: String(COMPOSE_PEER_PORT),
    REPLICATION_HOST: '0.0.0.0',
    REPLICATION_SECRET: note(
      'Signs every peer message. No default on purpose: set it for the replicated and backup profiles, e.g.\n' +
        'REPLICATION_SECRET=$(openssl rand -base64 48) docker compose --profile replicated up --build',
      '${REPLICATION_SECRET:-}',
    ),
    REPLICATION_PEERS: replicas
      .filter((r) => r !== replica)
      .map((r) => `${r}=${r}:${COMPOSE_PEER_PORT}`)
      .join(','),
  };
}
