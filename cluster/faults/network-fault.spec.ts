import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkFault, describeFault, FaultError, parseFault } from './network-fault.js';

describe('network faults as values', () => {
  it('reads the CLI words of each fault', () => {
    expect(parseFault(['partition', 'redis-1,app-1', 'redis-2,redis-3'])).toEqual({
      kind: 'partition',
      sides: [
        ['redis-1', 'app-1'],
        ['redis-2', 'redis-3'],
      ],
    });
    expect(parseFault(['cut', 'app-1', 'app-2'])).toEqual({
      kind: 'cut',
      from: 'app-1',
      to: 'app-2',
    });
    expect(parseFault(['lose', 'app-2', '20'])).toEqual({
      kind: 'loss',
      member: 'app-2',
      probability: 0.2,
    });
    expect(parseFault(['slow', 'redis-1', '5'])).toEqual({
      kind: 'slow',
      member: 'redis-1',
      ms: 5,
    });
    expect(describeFault(parseFault(['partition', 'a,b', 'c']))).toBe('partition: {a, b} | {c}');
  });

  it.each([
    [['partition', 'app-1']],
    [['partition', 'app-1,', ',']],
    [['cut', 'app-1']],
    [['lose', 'app-2', '0']],
    [['lose', 'app-2', '101']],
    [['slow', 'app-2', 'fast']],
    [['slow', 'app-2', '5', 'extra']],
    [['flood', 'app-2']],
  ])('refuses %j with the usage', (words) => {
    expect(() => parseFault(words)).toThrow(FaultError);
    expect(() => parseFault(words)).toThrow(/partition <a,b> <c,d>/);
  });

  it('takes any JSON without crashing: a well-formed fault, or a FaultError', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom('partition', 'cut', 'loss', 'slow'),
        (v, kind) => {
          for (const value of [
            v,
            { ...(typeof v === 'object' && v && !Array.isArray(v) ? v : {}), kind },
          ]) {
            let fault;
            try {
              fault = checkFault(value);
            } catch (error) {
              expect(error).toBeInstanceOf(FaultError);
              continue;
            }
            // What passes names members plainly and keeps numbers in range.
            expect(JSON.stringify(fault)).not.toMatch(/[^\w\-.,:"{}[\]]/);
            if (fault.kind === 'loss') expect(fault.probability).toBeLessThanOrEqual(1);
          }
        },
      ),
    );
  });
});
