import { describe, expect, it } from '@jest/globals';
import { BadRequestException } from '@nestjs/common';
import { createServer } from 'node:net';
import pg from 'pg';
import postgres from 'postgres';
import { QueryFailedError } from 'typeorm';
import { databaseOutage } from './outage.js';

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

describe('databaseOutage', () => {
  it('is named "database" (the 503 says "The database is unavailable")', () => {
    expect(databaseOutage.backend).toBe('database');
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
  ])('claims pg %s', (_, err) => {
    expect(databaseOutage.isOutage(err)).toBe(true);
  });

  it.each(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT'])(
    'claims postgres.js %s (a connection the session store lost or could not open)',
    (code) => {
      expect(databaseOutage.isOutage(Object.assign(new Error(code), { code }))).toBe(true);
    },
  );

  it('claims what postgres.js rejects with when nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => {
          resolve(port);
        });
      });
    });
    const sql = postgres(`postgres://nobody@127.0.0.1:${port}/none`, {
      connect_timeout: 2,
      backoff: false,
      onnotice: false,
    });
    const err = await sql`SELECT 1`.then(
      () => undefined,
      (e: unknown) => e,
    );
    await sql.end({ timeout: 0 });

    expect(databaseOutage.isOutage(err)).toBe(true);
  });

  it('looks inside a TypeORM QueryFailedError at the driver error', () => {
    const wrapped = new QueryFailedError(
      'SELECT 1',
      [],
      pgServerError('57P01', 'terminating connection'),
    );

    expect(databaseOutage.isOutage(wrapped)).toBe(true);
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
    ['a string', 'ECONNREFUSED'],
    ['an object with a code', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }],
    ['null', null],
  ])('does not claim %s', (_, err) => {
    expect(databaseOutage.isOutage(err)).toBe(false);
  });
});
