import { describe, expect, it } from '@jest/globals';
import { RejectionLog } from './rejection-log.js';

describe('RejectionLog', () => {
  it('logs once per peer and interval, then says how many it kept quiet about', () => {
    let now = 0;
    const lines: Array<Record<string, unknown>> = [];
    const log = new RejectionLog(
      (_, detail) => lines.push(detail),
      1000,
      () => now,
    );
    for (let i = 0; i < 50; i++) log.refused('10.0.0.9', 'bad MAC');
    log.refused('app-3', 'replayed');
    now = 1000;
    log.refused('10.0.0.9', 'bad MAC');
    expect(lines).toEqual([
      { peer: '10.0.0.9', reason: 'bad MAC' },
      { peer: 'app-3', reason: 'replayed' },
      { peer: '10.0.0.9', reason: 'bad MAC', refusedSinceLastLog: 49 },
    ]);
  });
});
