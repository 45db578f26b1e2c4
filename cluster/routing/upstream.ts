/** What every routing strategy builds with: upstream blocks with our shared settings. */

export interface UpstreamServer {
  /** The replica's name (REPLICA_NAME): what a route cookie names. */
  name: string;
  host: string;
  port: number;
}

export interface RoutingStrategy {
  name: string;
  /** One line: how a replica is picked. */
  summary: string;
  render(servers: readonly UpstreamServer[]): RenderedRouting;
  /** What every replica must be told to take part (e.g. the route cookie to re-pin clients with). */
  replicaEnv?: Readonly<Record<string, string>>;
}

export interface RenderedRouting {
  /** Upstream blocks (and `map`s, if any), for the http level of the config. */
  blocks: string;
  /** What `proxy_pass http://…` names: an upstream, or a variable a `map` sets. */
  target: string;
}

/**
 * nginx's passive failure detection: after one failed connect a replica is skipped this long.
 * When every replica is marked at once nginx answers 502, so a rolling restart must give each
 * restarted replica this long to be taken back before stopping the next (Cluster.rollingRestart).
 */
export const FAIL_TIMEOUT_S = 2;

/** A `server` line of an upstream: a replica that fails once is skipped for FAIL_TIMEOUT_S. */
export const serverLine = (s: UpstreamServer, extra = ''): string =>
  `server ${s.host}:${s.port} max_fails=1 fail_timeout=${FAIL_TIMEOUT_S}s${extra ? ` ${extra}` : ''};`;

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
