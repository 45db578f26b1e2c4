import { types } from 'node:util';
import type { OutageClassifier } from '../common/outages.js';

/**
 * Network errors, Postgres "connection exception" (08xxx) and "operator intervention" (57Pxx),
 * and postgres.js' own codes for a connection it lost or could not open (the session store's
 * client; TypeORM's is pg).
 */
const DOWN_CODES =
  /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|08...|57P0[1-3]|CONNECTION_(CLOSED|DESTROYED|ENDED)|CONNECT_TIMEOUT)$/;
const DOWN_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i;

/** pg, TypeORM's QueryFailedError around it, or postgres.js saying Postgres can't be reached. */
export const databaseOutage: OutageClassifier = {
  backend: 'database',
  isOutage(err) {
    // Or made in Node's own realm, which is not the caller's under a VM context (Jest's); and
    // some drivers' errors are Error subclasses that are not native errors.
    if (!(err instanceof Error || types.isNativeError(err))) return false;
    const code = (err as { code?: unknown }).code;
    const driverCode = (err as { driverError?: { code?: unknown } }).driverError?.code;
    if ([code, driverCode].some((c) => typeof c === 'string' && DOWN_CODES.test(c))) return true;
    return DOWN_MESSAGES.test(err.message);
  },
};
