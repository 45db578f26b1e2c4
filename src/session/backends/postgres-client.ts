import postgres from 'postgres';
import type { DataSource } from 'typeorm';
import { Deadline, StoreTimeoutError } from './deadline.js';

export type Parameter = postgres.ParameterOrJSON<never>;

/** What a statement returned: its rows, and how many rows it changed or returned. */
export interface Result<Row> {
  rows: Row[];
  rowCount: number;
}

/**
 * The client the postgres backend's statements go through (the sessions, the login attempts,
 * the pruning): postgres.js on connections of its own, apart from TypeORM's pg pool.
 *
 * Two things make a read cheap here, both about writes to a socket, which cost more on our
 * 2 cores than the lookup itself (a profile put them at a quarter of a replica's CPU):
 * - **Pipelining.** postgres.js sends many statements on one connection without waiting for the
 *   answers, and a Postgres backend answers what it has read in one wake-up. pg sends one
 *   statement per connection at a time, so every read costs a write and a wake-up on both sides.
 * - **One write per event-loop turn.** postgres.js writes what was queued in one tick; each HTTP
 *   request is a tick of its own, so that alone is still a write per read. Statements asked for
 *   during a turn start together when it ends (one `setImmediate`), and go out in one write per
 *   connection: a wait of at most one turn, for a write shared by every request in it.
 *
 * Statements are named prepared statements. Each runs within the deadline, and one past it is
 * cancelled (taken out of the queue, or cancelled on the server): a caller that got a 503 must not
 * have its statement applied later (a login attempt counted, a session written after the answer).
 */
export class SessionSql {
  private waiting: Array<() => void> = [];

  constructor(
    readonly sql: postgres.Sql,
    private readonly deadline: Deadline,
  ) {}

  static connect(url: string, connections: number, deadline: Deadline, timeoutMs: number) {
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const sql = postgres(url, {
      max: connections,
      connect_timeout: seconds,
      // A statement that could not even be sent in time is dropped, not sent late.
      queue_timeout: seconds,
      // While it backs off, postgres.js answers with the last error without dialling: the
      // default (up to 20 s) would keep answering 503 that long after Postgres is back.
      backoff: (attempts) => Math.min(0.05 * 2 ** attempts, 1),
      prepare: true,
      onnotice: false,
    });
    return new SessionSql(sql, deadline);
  }

  /**
   * Runs one of the backend's statements. (`unsafe` is postgres.js' name for "text not written
   * as a tagged template": the text is a constant of ours, and every value goes as a parameter.)
   */
  async query<Row extends object>(text: string, values: Parameter[] = []): Promise<Result<Row>> {
    let abandoned = false;
    // Past the deadline, what has not run yet must not run later: a statement not sent yet is
    // never sent, one running is cancelled, one answered is left alone.
    let abandon = (): void => {
      abandoned = true;
    };
    const answered = new Promise<postgres.RowList<Row[]>>((resolve, reject) => {
      if (this.waiting.length === 0)
        setImmediate(() => {
          this.startWaiting();
        });
      this.waiting.push(() => {
        if (abandoned) return;
        const sent = this.sql.unsafe<Row[]>(text, values, { prepare: true });
        abandon = () => {
          sent.cancel().catch(() => undefined);
        };
        sent.then(
          (rows) => {
            abandon = () => undefined;
            resolve(rows);
          },
          (err: unknown) => {
            abandon = () => undefined;
            reject(err);
          },
        );
      });
    });
    try {
      const result = await this.deadline.within(answered);
      return { rows: result, rowCount: result.count };
    } catch (err) {
      abandon();
      throw err;
    }
  }

  end(): Promise<void> {
    return this.sql.end({ timeout: 5 });
  }

  private startWaiting(): void {
    const starts = this.waiting;
    this.waiting = [];
    for (const start of starts) start();
  }
}

/**
 * The app's database (the DataSource's DATABASE_URL) through a SessionSql of its own, each
 * statement within `timeoutMs` (`what` names the work in the timeout's message).
 */
export function sessionSqlFor(
  database: DataSource,
  connections: number,
  timeoutMs: number,
  what = '',
): SessionSql {
  const { options } = database;
  const url = 'url' in options ? options.url : undefined;
  if (!url) throw new Error('the session statements need the DataSource configured by URL');
  const deadline = new Deadline(
    timeoutMs,
    (ms) => new StoreTimeoutError(`${what}Postgres did not answer within ${ms} ms`),
  );
  return SessionSql.connect(url, connections, deadline, timeoutMs);
}
