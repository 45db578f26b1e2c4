/**
 * Kubernetes' place: like compose's (every server in a container of its own, on its usual port,
 * reached by its name: here a headless Service per server), but nothing secret is written. The
 * values a secret holds are `$(KEY)` references that the renderer turns into the Secret's keys,
 * and the replicas find their peers through one headless Service that lists every app pod.
 */
import type { Place } from '../services/description.js';
import { composePlace } from './compose-place.js';

/** The Secret every secret value comes from: created at install (docs/kubernetes.md), never committed. */
export const SECRET_NAME = 'scaled-login-secrets';
/** The keys it holds; an environment value `$(KEY)` is resolved from it. */
export const SECRET_KEYS = ['SESSION_SECRET', 'REPLICATION_SECRET', 'POSTGRES_PASSWORD'] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];
export const secretRef = (key: SecretKey) => `$(${key})`;

/** The headless Service over every app pod, ready or not: the peers' DNS membership. */
export const PEER_SERVICE = 'scaled-login-peers';
export const PEER_PORT = 4000;

export function k8sPlace(): Place {
  const compose = composePlace();
  return {
    ...compose,
    kind: 'k8s',
    password: (key) => {
      if (key !== 'POSTGRES_PASSWORD') throw new Error(`k8s: no Secret key for ${key}`);
      return secretRef(key);
    },
    app: {
      ...compose.app,
      secret: async () => secretRef('SESSION_SECRET'),
      // Pod addresses are private (RFC 1918 or unique local): ingress-nginx is among them.
      trustProxy: 'loopback, uniquelocal',
      peers: async () => ({
        envFor: () => ({
          REPLICATION_PORT: String(PEER_PORT),
          REPLICATION_HOST: '0.0.0.0',
          REPLICATION_SECRET: secretRef('REPLICATION_SECRET'),
          REPLICATION_MEMBERSHIP: 'dns',
          REPLICATION_DNS_NAME: PEER_SERVICE,
        }),
      }),
    },
  };
}
