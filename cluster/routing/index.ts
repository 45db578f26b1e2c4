/**
 * How nginx picks a replica: one strategy per file here, named by a profile's `routing`. A
 * strategy renders its part of the nginx template (nginx/templates/default.conf.template): the
 * http-level blocks (upstreams, `map`s) and the target of `proxy_pass`. The same rendering serves
 * the native runner (servers on 127.0.0.1) and compose (servers app-1:3000, ...).
 */
import { consistentHash } from './consistent-hash.js';
import { ipHash } from './ip-hash.js';
import { roundRobin } from './round-robin.js';
import { routeCookie } from './route-cookie.js';
import type { RoutingStrategy } from './upstream.js';

export const routingStrategies = {
  'round-robin': roundRobin,
  'ip-hash': ipHash,
  'consistent-hash': consistentHash,
  'route-cookie': routeCookie,
} satisfies Record<string, RoutingStrategy>;

export type RoutingName = keyof typeof routingStrategies;

export {
  FAIL_TIMEOUT_S,
  type RenderedRouting,
  type RoutingStrategy,
  type UpstreamServer,
} from './upstream.js';
