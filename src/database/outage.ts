import type { OutageClassifier } from '../common/outages.js';

/** Network errors, Postgres "connection exception" (08xxx) and "operator intervention" (57Pxx). */
const DOWN_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|08...|57P0[1-3])$/;
const DOWN_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i;

/** pg (and TypeORM's QueryFailedError around it) saying Postgres can't be reached. */
export const databaseOutage: OutageClassifier = {
  backend: 'database',
  isOutage(err) {
    if (!(err instanceof Error)) return false;
    const code = (err as { code?: unknown }).code;
    const driverCode = (err as { driverError?: { code?: unknown } }).driverError?.code;
    if ([code, driverCode].some((c) => typeof c === 'string' && DOWN_CODES.test(c))) return true;
    return DOWN_MESSAGES.test(err.message);
  },
};
