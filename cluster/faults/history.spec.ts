import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  checkHistory,
  type HistoryEvent,
  type Operation,
  type Outcome,
  type Promises,
} from './history.js';

const ALL: Promises = { loginsKept: true, logoutFinal: true, revokeFinal: true, writesKept: true };

/**
 * A history a correct server could give: each operation takes effect at one moment between its
 * send and its answer (an `info` one at any moment after its send, or never), in one order, on one
 * copy of the truth; every read answers from that copy.
 */
interface Step {
  session: number;
  kind: Operation['kind'];
  start: number;
  length: number;
  /** Where in [start, start + length] it takes effect, as a fraction. */
  at: number;
  outcome: 'ok' | 'fail' | 'info';
  /** An `info` operation: whether it took effect at all. */
  applied: boolean;
}

const step = fc.record({
  session: fc.integer({ min: 0, max: 1 }),
  // Ends are rarer: after one, a session has nothing more to show.
  kind: fc.constantFrom<Operation['kind']>(
    'write',
    'write',
    'read',
    'read',
    'read',
    'logout',
    'revoke',
  ),
  start: fc.integer({ min: 1, max: 150 }),
  length: fc.integer({ min: 0, max: 40 }),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  outcome: fc.constantFrom<'ok' | 'fail' | 'info'>('ok', 'ok', 'ok', 'fail', 'info'),
  applied: fc.boolean(),
});

/** Logins first (one per session, at time 0), then the steps, answered from a single truth. */
function correctHistory(steps: Step[]): HistoryEvent[] {
  const sessions = [...new Set(steps.map((s) => s.session))];
  const logins: HistoryEvent[] = sessions.map((s) => ({
    session: `s${s}`,
    op: { kind: 'login' },
    invokedAt: 0,
    completedAt: 0.5,
    outcome: 'ok',
  }));
  const events = steps.map((s, i): { event: HistoryEvent; effectAt: number; takes: boolean } => {
    const op: Operation = s.kind === 'write' ? { kind: 'write', value: `v${i}` } : { kind: s.kind };
    const completedAt = s.start + s.length;
    // An `info` operation may take effect after its answer, up to 50 ms later (a late message).
    const effectAt = s.start + (s.outcome === 'info' ? s.length + 50 : s.length) * s.at;
    const takes = s.outcome === 'ok' || (s.outcome === 'info' && s.applied);
    const outcome = s.kind === 'read' && s.outcome !== 'ok' ? 'info' : s.outcome;
    return {
      event: { session: `s${s.session}`, op, invokedAt: s.start, completedAt, outcome },
      effectAt,
      takes,
    };
  });
  const truth = new Map<string, { in: boolean; value?: string }>(
    logins.map((l) => [l.session, { in: true }]),
  );
  for (const e of [...events].sort((a, b) => a.effectAt - b.effectAt)) {
    const state = truth.get(e.event.session);
    if (state === undefined) throw new Error('a step of a session with no login');
    if (!e.takes) continue;
    const op = e.event.op;
    if (op.kind === 'write' && state.in) state.value = op.value;
    if (op.kind === 'logout' || op.kind === 'revoke') state.in = false;
    if (op.kind === 'read' && e.event.outcome === 'ok')
      e.event.saw = state.in
        ? { authenticated: true, value: state.value }
        : { authenticated: false };
  }
  return [...logins, ...events.map((e) => e.event)];
}

const steps = fc.array(step, { minLength: 1, maxLength: 40 });
const reads = (h: HistoryEvent[]) => h.filter((e) => e.op.kind === 'read' && e.outcome === 'ok');
const ended = (h: HistoryEvent[], read: HistoryEvent, ok: boolean) =>
  h.some(
    (e) =>
      e.session === read.session &&
      (e.op.kind === 'logout' || e.op.kind === 'revoke') &&
      (ok
        ? e.outcome === 'ok' && e.completedAt < read.invokedAt
        : e.outcome !== 'fail' && e.invokedAt <= read.completedAt),
  );
/** The read at `pick` (modulo) among those `fits` accepts, or undefined when none does. */
function pickRead(h: HistoryEvent[], pick: number, fits: (read: HistoryEvent) => boolean) {
  const candidates = reads(h).filter(fits);
  return candidates[pick % Math.max(1, candidates.length)];
}

describe('checkHistory', () => {
  it('flags nothing in a history a correct server could give', () => {
    fc.assert(
      fc.property(steps, (s) => {
        expect(checkHistory(correctHistory(s), ALL)).toEqual([]);
      }),
      // The false alarms that matter (two writes at once, an answer lost) need many histories.
      { numRuns: 2000 },
    );
  });

  it('catches an acknowledged login that a later read finds logged out', () => {
    fc.assert(
      fc.property(steps, fc.nat(), (s, pick) => {
        const h = correctHistory(s);
        const read = pickRead(h, pick, (r) => !ended(h, r, false));
        fc.pre(read !== undefined);
        read.saw = { authenticated: false };
        expect(checkHistory(h, ALL)).toContainEqual(
          expect.objectContaining({ kind: 'lost-login', read }),
        );
        expect(checkHistory(h, { ...ALL, loginsKept: false })).toEqual([]);
      }),
    );
  });

  it('catches a session that a read finds alive after an acknowledged logout or revoke', () => {
    fc.assert(
      fc.property(steps, fc.nat(), (s, pick) => {
        const h = correctHistory(s);
        const read = pickRead(h, pick, (r) => ended(h, r, true));
        fc.pre(read !== undefined);
        read.saw = { authenticated: true };
        expect(checkHistory(h, ALL)).toContainEqual(
          expect.objectContaining({ kind: 'resurrected', read }),
        );
        const quiet = checkHistory(h, { ...ALL, logoutFinal: false, revokeFinal: false });
        expect(quiet.filter((v) => v.kind === 'resurrected')).toEqual([]);
      }),
    );
  });

  it('catches a read that sees an older value than an acknowledged write', () => {
    const acked = (h: HistoryEvent[], read: HistoryEvent) =>
      h.some(
        (e) =>
          e.session === read.session &&
          e.op.kind === 'write' &&
          e.outcome === 'ok' &&
          e.completedAt < read.invokedAt,
      );
    fc.assert(
      fc.property(steps, fc.nat(), (s, pick) => {
        const h = correctHistory(s);
        const read = pickRead(h, pick, (r) => r.saw?.authenticated === true && acked(h, r));
        fc.pre(read !== undefined);
        read.saw = { authenticated: true }; // the value the session had at login
        expect(checkHistory(h, ALL)).toContainEqual(
          expect.objectContaining({ kind: 'lost-write', read }),
        );
        expect(checkHistory(h, { ...ALL, writesKept: false })).toEqual([]);
      }),
    );
  });

  /** An event of a fixed history: sent at `t`, answered at `t + 1`. */
  const at = (
    session: string,
    t: number,
    op: Operation,
    outcome: Outcome = 'ok',
  ): HistoryEvent => ({
    session,
    op,
    invokedAt: t,
    completedAt: t + 1,
    outcome,
  });
  const reads = (session: string, t: number, authenticated: boolean): HistoryEvent => ({
    ...at(session, t, { kind: 'read' }),
    saw: { authenticated },
  });

  it('catches both a lost login and a resurrected session in one fixed history', () => {
    const history = [
      at('alice', 0, { kind: 'login' }),
      at('bob', 0, { kind: 'login' }),
      // The partition: alice's session lived only on the minority side, bob logs out there.
      at('bob', 10, { kind: 'logout' }),
      // After the heal.
      reads('alice', 20, false),
      reads('bob', 20, true),
    ];
    expect(checkHistory(history, ALL).map((v) => [v.kind, v.session])).toEqual([
      ['lost-login', 'alice'],
      ['resurrected', 'bob'],
    ]);
  });

  it('holds a revoke to revokeFinal and a logout to logoutFinal', () => {
    const ended = (kind: 'logout' | 'revoke') => [
      at('eve', 0, { kind: 'login' }),
      at('eve', 2, { kind }),
      reads('eve', 4, true),
    ];
    const kinds = (h: HistoryEvent[], p: Partial<Promises>) =>
      checkHistory(h, { ...ALL, ...p }).map((v) => v.kind);
    expect(kinds(ended('revoke'), { revokeFinal: false })).toEqual([]);
    expect(kinds(ended('revoke'), { logoutFinal: false })).toEqual(['resurrected']);
    expect(kinds(ended('logout'), { revokeFinal: false })).toEqual(['resurrected']);
    expect(kinds(ended('logout'), { logoutFinal: false })).toEqual([]);
  });

  it('judges only the reads sent from judgeFrom on, when asked to', () => {
    const history = [
      at('dan', 0, { kind: 'login' }),
      reads('dan', 5, false), // during the partition: the other side does not know it yet
      reads('dan', 50, true), // healed and converged: it does
    ];
    expect(checkHistory(history, ALL).map((v) => v.kind)).toEqual(['lost-login']);
    expect(checkHistory(history, ALL, { judgeFrom: 40 })).toEqual([]);
  });

  it("does not blame a revoke of the user's other sessions that was still on its way when a new login came", () => {
    const of = (e: HistoryEvent): HistoryEvent => ({ ...e, user: 'frank' });
    const revoke = (outcome: Outcome, completedAt: number) => ({
      ...of(at('frank/phone#1', 5, { kind: 'revoke', keeps: 'frank/laptop#1' }, outcome)),
      completedAt,
    });
    const history = (r: HistoryEvent) => [
      of(at('frank/laptop#1', 0, { kind: 'login' })),
      of(at('frank/phone#1', 0, { kind: 'login' })),
      r,
      // The phone logs in again while the revoke (unanswered, or slow) has not yet taken effect.
      of(at('frank/phone#2', 10, { kind: 'login' })),
      ...[reads('frank/phone#2', 20, false), reads('frank/laptop#1', 20, true)].map(of),
    ];
    expect(checkHistory(history(revoke('info', 9)), ALL)).toEqual([]);
    expect(checkHistory(history(revoke('ok', 12)), ALL)).toEqual([]);
    // Answered before the new login was sent: it could not have reached it.
    expect(checkHistory(history(revoke('ok', 7)), ALL).map((v) => v.kind)).toEqual(['lost-login']);
    // Nor another user's session, nor the session it keeps.
    const other = history(revoke('info', 9)).map((e) =>
      e.session === 'frank/phone#2' ? { ...e, user: 'grace' } : e,
    );
    expect(checkHistory(other, ALL).map((v) => v.kind)).toEqual(['lost-login']);
  });

  it('does not blame a logout whose answer was lost: it may have been done', () => {
    const history = [
      at('carol', 0, { kind: 'login' }),
      { ...at('carol', 5, { kind: 'logout' }, 'info'), completedAt: 9 },
      reads('carol', 20, false),
    ];
    expect(checkHistory(history, ALL)).toEqual([]);
  });
});
