/**
 * Clients that record a history for the checker (cluster/faults/history.ts): each user works two
 * sessions (two browsers), one operation at a time, through nginx: reads (whoami), writes (a new
 * display name, which the session carries), logouts followed by a new login, and revocations of
 * the other browser's session. Every operation is recorded with its send and answer times and
 * how it ended, whatever the faults do to it.
 */
import type { HistoryEvent, Operation, Outcome } from '../../cluster/faults/history.js';
import { errorCode } from '../../cluster/process/poll.js';
import type { HttpClient, HttpResponse } from './http-client.js';
import { PASSWORD, register } from './steps.js';

export interface Workload {
  /** A client of its own per browser (e.g. cluster.client(n)). */
  client(n: number): HttpClient;
  users: number;
  /** Chooses the next operation: a number in [0, 1) (Math.random, or a seeded generator). */
  random: () => number;
  /** Wait between two operations of one user, in ms. */
  pauseMs: number;
  /** Called once every user is registered, before the first operation (faults may start). */
  registered?: () => void;
}

interface Browser {
  client: HttpClient;
  /** The label of the session its cookie carries now; undefined when logged out. */
  session: string | undefined;
  logins: number;
}

const TIMEOUT_MS = 3000;

/**
 * Sends one operation and adds it to `history` with its send and answer times and how it ended:
 * `judge` reads the answer; no answer is `fail` when the connection was refused (it reached no
 * one), `info` otherwise (a timeout: it may have been done).
 */
export async function recordOperation(
  history: HistoryEvent[],
  session: string,
  op: Operation,
  send: () => Promise<HttpResponse>,
  judge: (res: HttpResponse) => Pick<HistoryEvent, 'outcome' | 'saw'>,
  user?: string,
): Promise<HistoryEvent> {
  const invokedAt = performance.now();
  let ended: Pick<HistoryEvent, 'outcome' | 'saw'>;
  try {
    ended = judge(await send());
  } catch (error) {
    // Refused before it reached anyone: not done. Anything else (a timeout): unknown.
    ended = { outcome: errorCode(error) === 'ECONNREFUSED' ? 'fail' : 'info' };
  }
  const event: HistoryEvent = {
    session,
    ...(user === undefined ? {} : { user }),
    op,
    invokedAt,
    completedAt: performance.now(),
    ...ended,
  };
  history.push(event);
  return event;
}

/** ok when the status is one of `ok`; unknown (info) for a 5xx or no status; else fail. */
export const outcomeOf = (res: HttpResponse, ok: number[]): Outcome =>
  ok.includes(res.status) ? 'ok' : res.status >= 500 || res.status === 0 ? 'info' : 'fail';

export interface Recorded {
  history: HistoryEvent[];
  /** Each session's cookie jar as its login left it: to ask any replica about it afterwards. */
  jars: Map<string, HttpClient>;
  /** Records a read of `session` through `client` (e.g. one replica asked directly). */
  read(session: string, client: HttpClient): Promise<HistoryEvent>;
}

/** Reads `session` (whoami) through `client` into `history`: what it saw, if it answered. */
export const recordRead = (history: HistoryEvent[], session: string, client: HttpClient) =>
  recordOperation(
    history,
    session,
    { kind: 'read' },
    () => client.get('/api/whoami', { timeoutMs: TIMEOUT_MS }),
    (res) => {
      if (res.status !== 200) return { outcome: 'info' };
      const body = res.body as { authenticated?: boolean; user?: { displayName?: string } };
      return {
        outcome: 'ok',
        saw: { authenticated: body.authenticated === true, value: body.user?.displayName },
      };
    },
  );

/** Runs the workload until `stop` resolves; the history, and the sessions' cookie jars. */
export async function recordHistory(w: Workload, stop: Promise<void>): Promise<Recorded> {
  const history: HistoryEvent[] = [];
  const jars = new Map<string, HttpClient>();
  let stopped = false;
  void stop.then(() => (stopped = true));
  let writes = 0;

  /** Sessions are labelled `<user>/<browser's address>#<login>`: a revoke reaches the user's. */
  const userOf = (session: string) => session.slice(0, session.indexOf('/'));
  const record = (
    session: string,
    op: Operation,
    send: () => Promise<HttpResponse>,
    judge: (res: HttpResponse) => Pick<HistoryEvent, 'outcome' | 'saw'>,
  ) => recordOperation(history, session, op, send, judge, userOf(session));

  async function logIn(b: Browser, name: string): Promise<void> {
    const label = `${name}/${b.client.localAddress ?? ''}#${++b.logins}`;
    const e = await record(
      label,
      { kind: 'login' },
      () =>
        b.client.post('/api/auth/login', {
          json: { username: name, password: PASSWORD },
          timeoutMs: TIMEOUT_MS,
        }),
      (res) => ({ outcome: outcomeOf(res, [200, 201]) }),
    );
    // A login whose answer was lost may have made a session: its cookie, if any, is dropped.
    if (e.outcome === 'ok') {
      b.session = label;
      jars.set(label, b.client.clone());
    } else b.client.cookies.clear();
  }

  const readThrough = (session: string, client: HttpClient) => recordRead(history, session, client);

  async function read(b: Browser): Promise<void> {
    if (b.session !== undefined) await readThrough(b.session, b.client);
  }

  async function write(b: Browser): Promise<void> {
    const session = b.session;
    if (session === undefined) return;
    const value = `v${++writes}`;
    await record(
      session,
      { kind: 'write', value },
      () => b.client.patch('/api/me', { json: { displayName: value }, timeoutMs: TIMEOUT_MS }),
      (res) => ({ outcome: outcomeOf(res, [200]) }),
    );
  }

  async function logOut(b: Browser): Promise<void> {
    const session = b.session;
    if (session === undefined) return;
    const e = await record(
      session,
      { kind: 'logout' },
      () => b.client.post('/api/auth/logout', { timeoutMs: TIMEOUT_MS }),
      (res) => ({ outcome: outcomeOf(res, [200, 201, 204]) }),
    );
    if (e.outcome !== 'fail') b.session = undefined;
  }

  /**
   * `b` ends `other`'s session ("my sessions": sign out the other devices). It ends every session
   * of the user but b's, so the checker is told whose it keeps.
   */
  async function revoke(b: Browser, other: Browser): Promise<void> {
    const session = other.session;
    if (b.session === undefined || session === undefined) return;
    const e = await record(
      session,
      { kind: 'revoke', keeps: b.session },
      () => b.client.delete('/api/sessions', { timeoutMs: TIMEOUT_MS }),
      (res) => ({ outcome: outcomeOf(res, [200, 204]) }),
    );
    if (e.outcome !== 'fail') other.session = undefined;
  }

  /** A new user, registered, with two browsers logged out. */
  async function newUser(u: number) {
    const name = `history-${process.pid}-${Date.now().toString(36)}-${u}`;
    const browsers: Browser[] = [0, 1].map((k) => ({
      client: w.client(2 * u + k + 1),
      session: undefined,
      logins: 0,
    }));
    const [first, second] = browsers as [Browser, Browser];
    const made = await register(first.client, name);
    if (made.status !== 201 && made.status !== 200)
      throw new Error(`registering ${name}: ${made.status}`);
    first.client.cookies.clear(); // registering logs in: the history starts at a login
    return { name, first, second };
  }

  async function work({ name, first, second }: Awaited<ReturnType<typeof newUser>>) {
    while (!stopped) {
      const [b, other] = w.random() < 0.5 ? [first, second] : [second, first];
      const pick = w.random();
      if (b.session === undefined) await logIn(b, name);
      else if (pick < 0.5) await read(b);
      else if (pick < 0.8) await write(b);
      else if (pick < 0.9) await logOut(b);
      else await revoke(b, other);
      await new Promise((resolve) => setTimeout(resolve, w.pauseMs));
    }
  }

  const users = await Promise.all([...Array(w.users).keys()].map(newUser));
  w.registered?.();
  await Promise.all(users.map(work));
  return { history, jars, read: readThrough };
}
