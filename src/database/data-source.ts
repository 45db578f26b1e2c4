import { DataSource, type DataSourceOptions } from 'typeorm';
import { SessionRecord } from '../session/session-record.entity.js';
import { User } from '../users/user.entity.js';
import { CreateUsers1763769600000 } from './migrations/1763769600000-create-users.js';
import { CreateUserSessions1763856000000 } from './migrations/1763856000000-create-user-sessions.js';
import { SessionsInPostgres1764115200000 } from './migrations/1764115200000-sessions-in-postgres.js';

/** One definition for the app and the migration command, so they can't disagree. */
export function dataSourceOptions(url: string, timeoutMs = 5000): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [User, SessionRecord],
    migrations: [
      CreateUsers1763769600000,
      CreateUserSessions1763856000000,
      SessionsInPostgres1764115200000,
    ],
    // Schema changes only ever come from migrations.
    synchronize: false,
    migrationsRun: false,
    // Failed queries surface as errors (and 503s when Postgres is down); no query log of our own.
    logging: false,
    extra: {
      max: 10,
      // Fail fast when Postgres is unreachable, so requests get a 503 instead of hanging.
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs * 5,
    },
  };
}

export function createDataSource(url: string): DataSource {
  return new DataSource(dataSourceOptions(url));
}
