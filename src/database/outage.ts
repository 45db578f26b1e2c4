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

/**
 * An Error, also one made in Node's own realm, which is not the caller's under a VM context
 * (Jest's); some drivers' errors are Error subclasses that are not native errors.
 * `util.types.isNativeError` is deprecated and `Error.isError` needs Node 24: the built-in tag
 * serves here (a forged one only gets the code test that follows).
 */
function isError(err: unknown): err is Error {
  return err instanceof Error || Object.prototype.toString.call(err) === '[object Error]';
}

/** pg, TypeORM's QueryFailedError around it, or postgres.js saying Postgres can't be reached. */
export const databaseOutage: OutageClassifier = {
  backend: 'database',
  isOutage(err) {
    if (!isError(err)) return false;
    const code = (err as { code?: unknown }).code;
    const driverCode = (err as { driverError?: { code?: unknown } }).driverError?.code;
    if ([code, driverCode].some((c) => typeof c === 'string' && DOWN_CODES.test(c))) return true;
    return DOWN_MESSAGES.test(err.message);
  },
};
