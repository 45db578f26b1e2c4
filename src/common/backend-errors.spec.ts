import { describe, expect, it } from '@jest/globals';
import { BadRequestException, ServiceUnavailableException } from '@nestjs/common';
import pg from 'pg';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  SocketClosedUnexpectedlyError,
  TimeoutError,
} from 'redis';
import { QueryFailedError } from 'typeorm';
import { asBackendError, backendUnavailable, unavailableBackend } from './backend-errors.js';

/** A pg server error (what pg's protocol parser builds from an ErrorResponse message). */
function pgServerError(code: string, message: string): InstanceType<typeof pg.DatabaseError> {
  const err = new pg.DatabaseError(message, message.length, 'error');
  err.code = code;
  return err;
}

/** What net.connect (and so pg) rejects with when nothing listens on the port. */
function connectionRefused(): NodeJS.ErrnoException {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
  });
}

describe('unavailableBackend', () => {
  it.each([
    ['ClientOfflineError (command sent while Redis is down)', new ClientOfflineError()],
    ['ClientClosedError (command after the client closed)', new ClientClosedError()],
    ['ConnectionTimeoutError', new ConnectionTimeoutError()],
    ['SocketClosedUnexpectedlyError', new SocketClosedUnexpectedlyError()],
    ['TimeoutError (a command past its timeout)', new TimeoutError()],
  ])('classifies node-redis %s as the session store', (_, err) => {
    expect(unavailableBackend(err)).toBe('session store');
  });

  it.each([
    ['ECONNREFUSED from connect', connectionRefused()],
    ['ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    [
      '57P01 admin_shutdown',
      pgServerError('57P01', 'terminating connection due to administrator command'),
    ],
    ['57P03 cannot_connect_now', pgServerError('57P03', 'the database system is starting up')],
    ['08006 connection_failure', pgServerError('08006', 'connection failure')],
    ['a pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
  ])('classifies pg %s as the database', (_, err) => {
    expect(unavailableBackend(err)).toBe('database');
  });

  it('does not mistake an unrelated error that is merely named TimeoutError for Redis', () => {
    const abortTimeout = new DOMException('The operation timed out.', 'TimeoutError');
    expect(unavailableBackend(abortTimeout)).toBeUndefined();
  });

  it('looks inside a TypeORM QueryFailedError at the driver error', () => {
    const wrapped = new QueryFailedError(
      'SELECT 1',
      [],
      pgServerError('57P01', 'terminating connection'),
    );

    expect(unavailableBackend(wrapped)).toBe('database');
  });

  it.each([
    ['a plain Error', new Error('boom')],
    [
      'a pg unique violation (a client mistake, not an outage)',
      pgServerError('23505', 'duplicate key value'),
    ],
    ['a pg syntax error', pgServerError('42601', 'syntax error')],
    ['an HTTP exception', new BadRequestException('bad')],
    ['a TypeError', new TypeError('x is undefined')],
  ])('says undefined for %s', (_, err) => {
    expect(unavailableBackend(err)).toBeUndefined();
  });

  it.each([
    ['a string', 'ECONNREFUSED'],
    ['an object with a code', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }],
    ['null', null],
    ['undefined', undefined],
  ])('says undefined for %s (not an Error)', (_, value) => {
    expect(unavailableBackend(value)).toBeUndefined();
  });
});

describe('backendUnavailable', () => {
  it('is a 503 that names the backend', () => {
    const err = backendUnavailable('session store');

    expect(err).toBeInstanceOf(ServiceUnavailableException);
    expect(err.getStatus()).toBe(503);
    expect(err.message).toContain('session store is unavailable');
  });
});

describe('asBackendError', () => {
  it('turns an outage into a 503', () => {
    const mapped = asBackendError(new ClientOfflineError());

    expect(mapped).toBeInstanceOf(ServiceUnavailableException);
    expect((mapped as ServiceUnavailableException).message).toContain('session store');
  });

  it('passes any other error through as the same object', () => {
    const err = new Error('boom');

    expect(asBackendError(err)).toBe(err);
  });
});
