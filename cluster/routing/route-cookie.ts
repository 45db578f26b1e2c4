import { defined } from '../../src/common/defined.js';
import { configSchema } from '../../src/config/config.schema.js';
import {
  INGRESS_NGINX,
  serverLine,
  upstreamBlock,
  type RoutingStrategy,
  type UpstreamServer,
} from './upstream.js';

/**
 * The cookie that names a client's replica. nginx reads it as `$cookie_route`, and nginx
 * variable names allow only letters, digits and "_": keep it so.
 */
export const ROUTE_COOKIE = 'route';

/** An upstream name per replica: nginx names allow no "-", replica names do (app-1 → pin_app_1). */
export const pinnedUpstream = (s: UpstreamServer) => `pin_${s.name.replace(/[^A-Za-z0-9_]/g, '_')}`;

/**
 * Stickiness by cookie, the way an AWS ALB (AWSALB), HAProxy (`cookie SERVERID insert`) and
 * Tomcat (jvmRoute) do it, on stock nginx 1.22 (no `sticky` directive, no modules):
 * - a `map` turns the route cookie into an upstream. Only the exact name of a replica maps to
 *   its upstream; anything else (no cookie, a forged, unknown, malformed or huge value) maps to
 *   the round-robin upstream `app`. The cookie selects among our upstreams, nothing more;
 * - each replica's upstream holds it as the server and the others as `backup`: when it is down,
 *   nginx fails over to another replica instead of answering 502 (HAProxy's `option redispatch`);
 * - the replica that answers sets the cookie to its own name whenever the request named someone
 *   else, or nobody (src/affinity/): a failed-over client is re-pinned, like Tomcat's
 *   JvmRouteBinderValve, and stays on its new replica when the old one returns.
 */
export const routeCookie: RoutingStrategy = {
  name: 'route-cookie',
  summary: 'a cookie names the replica; the replica that answers sets it',
  replicaEnv: { ROUTE_COOKIE },
  // ingress-nginx sets its own cookie (a hash of the pod) and re-pins a client whose pod is gone;
  // `persistent`: a new pod gets only new clients, as here ("balanced" would move some, and
  // where sessions live in one replica's memory, log them out). The cookie lasts as long as the
  // longest session (SESSION_ABSOLUTE_TIMEOUT's default).
  ingressNginx: {
    annotations: {
      [`${INGRESS_NGINX}/affinity`]: 'cookie',
      [`${INGRESS_NGINX}/affinity-mode`]: 'persistent',
      [`${INGRESS_NGINX}/session-cookie-name`]: ROUTE_COOKIE,
      [`${INGRESS_NGINX}/session-cookie-path`]: '/',
      [`${INGRESS_NGINX}/session-cookie-samesite`]: 'Lax',
      [`${INGRESS_NGINX}/session-cookie-max-age`]: String(
        configSchema.shape.SESSION_ABSOLUTE_TIMEOUT.parse(undefined),
      ),
      [`${INGRESS_NGINX}/session-cookie-change-on-failure`]: 'true',
    },
    differs:
      'the cookie names a pod by a hash ingress-nginx keeps, not by its name, and ingress-nginx ' +
      'sets it, not the replica (so the replicas get no ROUTE_COOKIE)',
  },
  // A new replica gets only clients without a cookie; those of a replica that leaves move.
  keptThrough: (counts) => Math.min(...counts) / defined(counts[0], 'the replica count before'),
  render: (servers) => {
    const roundRobin = upstreamBlock(
      'app',
      servers.map((s) => serverLine(s)),
    );
    const pinned = servers.map((home) =>
      upstreamBlock(pinnedUpstream(home), [
        serverLine(home),
        ...servers.filter((s) => s !== home).map((s) => serverLine(s, 'backup')),
      ]),
    );
    const routes = [
      `map $cookie_${ROUTE_COOKIE} $route_upstream {`,
      '    default app;',
      ...servers.map((s) => `    ${JSON.stringify(s.name)} ${pinnedUpstream(s)};`),
      '}',
    ];
    return {
      blocks: [roundRobin, ...pinned, routes.join('\n')].join('\n\n'),
      target: '$route_upstream',
    };
  },
};
