import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type postgres from 'postgres';
import { Deadline } from './deadline.js';
import { SessionSql } from './postgres-client.js';
import { defined } from '../../common/defined.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * postgres.js as far as SessionSql uses it: `unsafe` starts a statement, and everything started
 * within one tick goes out in one write (a flush on nextTick), which is what the driver does.
 * A statement whose first value is "bad" fails.
 */
function fakeDriver() {
  const writes: string[][] = [];
  let unflushed: string[] = [];
  const unsafe = (text: string, values: unknown[]) => {
    if (unflushed.length === 0) {
      process.nextTick(() => {
        writes.push(unflushed);
        unflushed = [];
      });
    }
    unflushed.push(String(values[0]));
    return values[0] === 'bad'
      ? Promise.reject(new Error(`failed: ${text}`))
      : Promise.resolve(Object.assign([{ echo: values[0] }], { count: 1 }));
  };
  return { sql: { unsafe } as unknown as postgres.Sql, writes };
}

describe('SessionSql', () => {
  it('sends what each turn asks for in one write, and answers each caller with its own', async () => {
    // Turns of requests: each inner array is the statements asked for during one turn.
    const turns = fc.array(fc.array(fc.constantFrom('a', 'b', 'bad'), { maxLength: 6 }), {
      minLength: 1,
      maxLength: 5,
    });
    await fc.assert(
      fc.asyncProperty(turns, async (plan) => {
        const { sql, writes } = fakeDriver();
        const client = new SessionSql(sql, new Deadline(5000));
        const answers: Array<Promise<unknown>> = [];
        for (const [i, turn] of plan.entries()) {
          for (const value of turn) {
            answers.push(
              client.query<{ echo: string }>('SELECT $1', [value]).then(
                (r) => defined(r.rows[0], 'a row').echo,
                (e: unknown) => (e as Error).message,
              ),
            );
          }
          // Nothing starts during the turn that asked for it.
          expect(writes.flat()).toHaveLength(plan.slice(0, i).flat().length);
          await nextTurn();
          await nextTurn();
        }

        expect(writes).toEqual(plan.filter((turn) => turn.length > 0));
        expect(await Promise.all(answers)).toEqual(
          plan.flat().map((v) => (v === 'bad' ? 'failed: SELECT $1' : v)),
        );
      }),
    );
  });

  it('cancels a statement past its deadline, so it is not applied after the 503', async () => {
    const cancelled: string[] = [];
    const unsafe = (text: string) =>
      Object.assign(new Promise(() => undefined), {
        cancel: async () => void cancelled.push(text),
      });
    const sql = { unsafe } as unknown as postgres.Sql;
    const client = new SessionSql(sql, new Deadline(20, (ms) => new Error(`late after ${ms}`)));

    await expect(client.query('SELECT 1')).rejects.toThrow('late after 20');
    expect(cancelled).toEqual(['SELECT 1']);
  });

  it('cancels nothing that has answered, an error included', async () => {
    const cancelled: string[] = [];
    const unsafe = (text: string) =>
      Object.assign(Promise.reject(new Error('duplicate key')), {
        cancel: async () => void cancelled.push(text),
      });
    const client = new SessionSql({ unsafe } as unknown as postgres.Sql, new Deadline(5000));

    await expect(client.query('INSERT 1')).rejects.toThrow('duplicate key');
    expect(cancelled).toEqual([]);
  });
});
