/**
 * A Jepsen-style history checker for sessions. Clients record every operation with the time they
 * sent it and the time they heard back, and how it ended: `ok` (acknowledged), `fail` (certainly
 * not done: refused before it reached the app) or `info` (unknown: a timeout, a 503 that may have
 * come after the store took the write). After the faults heal, the checker decides whether the
 * profile kept its promises. An operation may take effect at any moment between its send and its
 * answer (an `info` one at any moment after its send, or never); the checker flags only what no
 * such order explains, so a correct history is never flagged.
 */

/** What a client did to one session. Sessions are the client's labels, known before login ends. */
export type Operation =
  | { kind: 'login' }
  /** Change what the session carries (the display name); values are unique per session. */
  | { kind: 'write'; value: string }
  | { kind: 'read' }
  | { kind: 'logout' }
  /**
   * Another session of the same user ends this one ("my sessions" → revoke). It ends every
   * session of the user but `keeps` (the revoker's) that exists when it takes effect: also one
   * logged in after it was sent, while an unanswered revoke was still on its way.
   */
  | { kind: 'revoke'; keeps?: string };

export type Outcome = 'ok' | 'fail' | 'info';

export interface HistoryEvent {
  session: string;
  /** The user the session belongs to: a revoke reaches all of them (see Operation). */
  user?: string;
  op: Operation;
  invokedAt: number;
  completedAt: number;
  outcome: Outcome;
  /** What an `ok` read saw: whether the session was logged in, and the value it carried. */
  saw?: { authenticated: boolean; value?: string };
}

/** What a profile promises under faults: each is checked only where promised. */
export interface Promises {
  /** An acknowledged login stays logged in until the session is ended. */
  loginsKept: boolean;
  /** After an acknowledged logout, no read finds the session logged in. */
  logoutFinal: boolean;
  /** The same after an acknowledged revoke from another session of the user. */
  revokeFinal: boolean;
  /** After an acknowledged write, no later read sees an older value. */
  writesKept: boolean;
}

export interface Violation {
  kind: 'lost-login' | 'resurrected' | 'lost-write';
  session: string;
  /** The read that shows it. */
  read: HistoryEvent;
  /** The acknowledged operation it contradicts. */
  because: HistoryEvent;
}

/**
 * Every violation of the promises in the history; empty when the history is explained. With
 * `judgeFrom`, only reads sent from then on are judged: a promise that holds once the faults are
 * healed and the copies have converged (what a partition allows at best), the operations before
 * still counting as what the reads must reflect.
 */
export function checkHistory(
  history: readonly HistoryEvent[],
  promises: Promises,
  o: { judgeFrom?: number } = {},
): Violation[] {
  const bySession = new Map<string, HistoryEvent[]>();
  for (const e of history) {
    const list = bySession.get(e.session) ?? [];
    list.push(e);
    bySession.set(e.session, list);
  }
  const violations: Violation[] = [];
  for (const [session, events] of bySession) {
    const reads = events.filter(
      (e) =>
        e.op.kind === 'read' && e.outcome === 'ok' && e.saw && e.invokedAt >= (o.judgeFrom ?? 0),
    );
    const done = (kinds: Operation['kind'][]) =>
      events.filter((e) => kinds.includes(e.op.kind) && e.outcome === 'ok');
    const ends = [
      ...events.filter(
        (e) => (e.op.kind === 'logout' || e.op.kind === 'revoke') && e.outcome !== 'fail',
      ),
      ...revokesReaching(history, session, events),
    ];
    for (const read of reads) {
      const saw = read.saw;
      if (saw === undefined) continue;
      const before = (e: HistoryEvent) => e.completedAt < read.invokedAt;
      if (promises.loginsKept && !saw.authenticated) {
        // Logged in for sure before the read, and no end that could have come first.
        const login = done(['login']).find(before);
        const mayHaveEnded = ends.some((e) => e.invokedAt <= read.completedAt);
        if (login && !mayHaveEnded)
          violations.push({ kind: 'lost-login', session, read, because: login });
      }
      if (saw.authenticated) {
        const final: Operation['kind'][] = [];
        if (promises.logoutFinal) final.push('logout');
        if (promises.revokeFinal) final.push('revoke');
        const end = done(final).find(before);
        if (end) violations.push({ kind: 'resurrected', session, read, because: end });
      }
      if (promises.writesKept && saw.authenticated) {
        const stale = staleBecause(events, read, saw.value);
        if (stale) violations.push({ kind: 'lost-write', session, read, because: stale });
      }
    }
  }
  return violations;
}

/**
 * The revokes by another session of the same user that may have ended `session`: one that could
 * take effect once the session existed (answered after its login was sent, or not answered).
 */
function revokesReaching(
  history: readonly HistoryEvent[],
  session: string,
  events: readonly HistoryEvent[],
): HistoryEvent[] {
  const user = events.find((e) => e.user !== undefined)?.user;
  const loginSent = events.find((e) => e.op.kind === 'login')?.invokedAt ?? 0;
  if (user === undefined) return [];
  return history.filter(
    (e) =>
      e.op.kind === 'revoke' &&
      e.user === user &&
      e.session !== session &&
      e.op.keeps !== session &&
      e.outcome !== 'fail' &&
      (e.outcome === 'info' || e.completedAt >= loginSent),
  );
}

/**
 * The acknowledged write that makes a read's value stale: one that ended before the read began,
 * and began after the write of the value seen had ended (so no order puts that one later). The
 * value a session starts with counts as written by its login.
 */
function staleBecause(
  events: readonly HistoryEvent[],
  read: HistoryEvent,
  value: string | undefined,
): HistoryEvent | undefined {
  const writes = events.filter((e) => e.op.kind === 'write' || e.op.kind === 'login');
  const source = writes.find((e) => (e.op.kind === 'write' ? e.op.value === value : false));
  const sourceDone = source ?? writes.find((e) => e.op.kind === 'login');
  if (sourceDone === undefined || sourceDone.outcome !== 'ok') return undefined;
  return writes.find(
    (w) =>
      w !== sourceDone &&
      w.op.kind === 'write' &&
      w.outcome === 'ok' &&
      w.completedAt < read.invokedAt &&
      w.invokedAt > sourceDone.completedAt,
  );
}
