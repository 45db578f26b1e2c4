/**
 * Accounts and logins for the virtual clients. Users are inserted straight into Postgres (one
 * password hash for all), because registering hundreds of users through the API would spend the
 * run hashing passwords; logging in still goes through nginx and the app like any browser's.
 */
import argon2 from 'argon2';
import pg from 'pg';
import { Histogram } from './histogram.js';
import type { VirtualClient } from '../cluster/virtual-client.js';
import { inParallel } from './load.js';

export const PASSWORD = 'correct horse battery staple';

/**
 * The password hash the seeded users share. Cheap on purpose (argon2id at its minimum memory):
 * set-up logins stay fast. The real login cost is measured separately (measurements/login.ts),
 * with users registered through the API at the app's configured cost.
 */
export function cheapPasswordHash(): Promise<string> {
  return argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 1024, timeCost: 2 });
}

/**
 * Inserts users `<prefix>-0` … `<prefix>-<count-1>` in one statement; existing names are kept.
 * Column names follow src/database/migrations: if they change, this fails loudly.
 */
export async function seedUsers(
  postgresUrl: string,
  prefix: string,
  count: number,
  hash: string,
): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO users (username, display_name, password_hash)
         SELECT name, 'Bench user ' || name, $2 FROM unnest($1::text[]) AS name
       ON CONFLICT DO NOTHING`,
      [names, hash],
    );
  } finally {
    await client.end();
  }
  return names;
}

export interface LoginOutcome {
  latency: Histogram;
  failed: number;
  /** The first failure's status and body, to say why. */
  firstFailure?: string;
  /** Logins answered 503 and tried again (with `retryUnavailable`). */
  retried: number;
}

/**
 * Logs client i in as usernames[i], `concurrency` at a time, through nginx. `retryUnavailable`:
 * a login answered 503 (the store not ready yet) is tried again that many times, a second
 * apart, as the answer's Retry-After asks; for setting up, not for what is measured.
 */
export async function logIn(
  clients: VirtualClient[],
  usernames: string[],
  concurrency: number,
  retryUnavailable = 0,
): Promise<LoginOutcome> {
  const outcome: LoginOutcome = { latency: new Histogram(), failed: 0, retried: 0 };
  await inParallel(clients, concurrency, async (client, i) => {
    let reply;
    for (let attempt = 0; ; attempt++) {
      client.clearCookies();
      reply = await client.send('POST', '/api/auth/login', {
        username: usernames[i],
        password: PASSWORD,
      });
      if (reply.status !== 503 || attempt >= retryUnavailable) break;
      outcome.retried++;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    outcome.latency.record(reply.ms);
    if (reply.status !== 200) {
      outcome.failed++;
      outcome.firstFailure ??= `${reply.status} ${reply.body.slice(0, 200)}`;
    }
  });
  return outcome;
}
