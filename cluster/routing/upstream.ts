/** What every routing strategy builds with: upstream blocks with our shared settings. */

export interface UpstreamServer {
  /** The replica's name (REPLICA_NAME): what a route cookie names. */
  name: string;
  host: string;
  port: number;
  /**
   * Draining for a restart: kept in the list with nginx's `down`, so that nothing is sent to it
   * and a hash over the list (ip_hash, consistent hashing) still maps every other client as before.
   */
  down?: boolean;
}

export interface RoutingStrategy {
  name: string;
  /** One line: how a replica is picked. */
  summary: string;
  render(servers: readonly UpstreamServer[]): RenderedRouting;
  /** What every replica must be told to take part (e.g. the route cookie to re-pin clients with). */
  replicaEnv?: Readonly<Record<string, string>>;
  /**
   * In theory, the share of clients that stay on one replica while the replica count goes
   * through `counts` (the list app-1..app-n each time): the benchmark compares what a scaling
   * event logs out with 1 minus this. Absent where a client has no replica of its own.
   */
  keptThrough?(counts: readonly number[]): number;
  /**
   * The same choice on Kubernetes, where ingress-nginx routes instead of our nginx
   * (cluster/render/k8s.ts): the Ingress annotations, and in what it differs from ours.
   */
  ingressNginx: { annotations: Readonly<Record<string, string>>; differs?: string };
}

/** ingress-nginx's annotation prefix (its default; `--annotations-prefix` can change it). */
export const INGRESS_NGINX = 'nginx.ingress.kubernetes.io';

export interface RenderedRouting {
  /** Upstream blocks (and `map`s, if any), for the http level of the config. */
  blocks: string;
  /** What `proxy_pass http://…` names: an upstream, or a variable a `map` sets. */
  target: string;
}

/**
 * nginx's passive failure detection: after one failed connect a replica is skipped this long.
 * When every replica is marked at once nginx answers 502, so a replica killed and started again
 * is given this long to be taken back (Cluster.rejoin); a rolling restart drains instead.
 */
export const FAIL_TIMEOUT_S = 2;

/** A `server` line of an upstream: a replica that fails once is skipped for FAIL_TIMEOUT_S. */
export const serverLine = (s: UpstreamServer, extra = ''): string =>
  `server ${s.host}:${s.port} max_fails=1 fail_timeout=${FAIL_TIMEOUT_S}s${extra ? ` ${extra}` : ''}${s.down ? ' down' : ''};`;

/**
 * An upstream block with the settings every one of ours shares:
 * - `zone`: shared memory, so all workers agree on which replica is down;
 * - `keepalive`: idle connections to the replicas are reused, up to 256 per worker (enough for
 *   the requests in flight at peak: every request beyond the cache opens a new connection, which
 *   a busy Node process accepts late; with 32 the p99 under load was 3-6 times higher);
 * - `keepalive_timeout 4s`: closed before Node's 5 s keep-alive timeout, so nginx never sends a
 *   request on a connection Node is closing.
 */
export function upstreamBlock(name: string, lines: readonly string[]): string {
  return [
    `upstream ${name} {`,
    `    zone ${name} 64k;`,
    ...lines.map((line) => `    ${line}`),
    '    keepalive 256;',
    '    keepalive_timeout 4s;',
    '}',
  ].join('\n');
}
