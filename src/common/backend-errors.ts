import { ServiceUnavailableException } from '@nestjs/common';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from 'redis';

/** node-redis errors that mean "Redis is not reachable right now" (subclasses included). */
const REDIS_DOWN = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  ReconnectStrategyError,
  DisconnectsClientError,
];

/** Network errors, Postgres "connection exception" (08xxx) and "operator intervention" (57Pxx). */
const PG_DOWN_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|08...|57P0[1-3])$/;
const PG_DOWN_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i;

export type Backend = 'session store' | 'database';

/** Says which backend an error means is down, or undefined when it is some other error. */
export function unavailableBackend(err: unknown): Backend | undefined {
  if (!(err instanceof Error)) return undefined;
  if (REDIS_DOWN.some((cls) => err instanceof cls)) return 'session store';
  const code = (err as { code?: unknown }).code;
  const driverCode = (err as { driverError?: { code?: unknown } }).driverError?.code;
  for (const c of [code, driverCode])
    if (typeof c === 'string' && PG_DOWN_CODES.test(c)) return 'database';
  if (PG_DOWN_MESSAGES.test(err.message)) return 'database';
  return undefined;
}

export function backendUnavailable(backend: Backend): ServiceUnavailableException {
  return new ServiceUnavailableException(
    `The ${backend} is unavailable right now. Please try again in a moment.`,
  );
}

/** Turns a backend outage into a 503; passes every other error through unchanged. */
export function asBackendError(err: unknown): unknown {
  const backend = unavailableBackend(err);
  return backend ? backendUnavailable(backend) : err;
}
