import { describe, expect, it } from '@jest/globals';
import { summarizeProfile } from './cpu-profile.js';

const frame = (functionName: string, url = '') => ({ functionName, url });

describe('summarizeProfile', () => {
  it('adds up the sampled time by owner, idle left out, largest first', () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(idle)') },
        { id: 2, callFrame: frame('hash', 'file:///x/node_modules/express-session/index.js') },
        { id: 3, callFrame: frame('get', 'file:///x/node_modules/@redis/client/dist/a.js') },
        { id: 4, callFrame: frame('decode', 'file:///x/dist/session/session-codec.js') },
        { id: 5, callFrame: frame('setHeader', 'node:_http_outgoing') },
        { id: 6, callFrame: frame('writev') },
        { id: 7, callFrame: frame('(garbage collector)') },
      ],
      // Each sample stands for the gap after it (the next delta): idle holds the 500.
      samples: [2, 3, 4, 5, 6, 7, 2, 1, 1],
      timeDeltas: [0, 10, 20, 30, 10, 20, 10, 0, 500],
    };
    expect(summarizeProfile(profile)).toEqual([
      { owner: 'app:session/session-codec.js', share: 0.3 },
      { owner: '@redis/client', share: 0.2 },
      { owner: '(native)', share: 0.2 },
      { owner: 'express-session', share: 0.1 },
      { owner: 'node:_http_outgoing', share: 0.1 },
      { owner: '(garbage collector)', share: 0.1 },
    ]);
  });

  it('says nothing of a profile with only idle time', () => {
    const profile = {
      nodes: [{ id: 1, callFrame: frame('(idle)') }],
      samples: [1],
      timeDeltas: [5],
    };
    expect(summarizeProfile(profile)).toEqual([]);
  });
});
