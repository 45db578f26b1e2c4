import { describe, expect, it } from '@jest/globals';
import { profileNames } from '../cluster/profiles.js';
import { isFullRun, parseOptions, UsageError } from './options.js';

describe('parseOptions', () => {
  it('measures every profile of the table and every peer by default, and only such a run replaces REPORT.md', () => {
    const o = parseOptions([]);

    expect(o.profiles).toEqual(profileNames);
    expect(o.peers).toEqual([
      'bare',
      'express',
      'express-notouch',
      'express-pg',
      'express-pg-notouch',
    ]);
    expect(o.full).toBe(true);
    expect(parseOptions(['--quick']).full).toBe(false);
    expect(parseOptions(['--env', 'LOG_LEVEL=warn']).full).toBe(false);
    // A run that could not measure a row is not the full run, whatever its flags.
    expect(isFullRun({ ...parseOptions([]), missing: ['redis'] })).toBe(false);
    expect(isFullRun({ ...parseOptions([]), missing: [] })).toBe(true);
  });

  it('leaves the peers out when profiles are chosen, unless asked for', () => {
    expect(parseOptions(['--profile', 'redis']).peers).toEqual([]);
    expect(parseOptions(['--profile', 'redis', '--peers', 'express']).peers).toEqual(['express']);
    expect(parseOptions(['--peers', 'none']).profiles).toEqual(profileNames);
  });

  it('shrinks everything in quick mode, and explicit flags still win', () => {
    const quick = parseOptions(['--quick', '--clients', '10']);

    expect(quick.clients).toBe(10);
    expect(quick.durationSeconds).toBeLessThan(parseOptions([]).durationSeconds);
    expect(quick.memorySessions).toBeLessThan(parseOptions([]).memorySessions);
    expect(quick.peers).toEqual([]);
    expect(parseOptions(['--quick', '--peers', 'bare']).peers).toEqual(['bare']);
  });

  it('runs only the measurements named by --only, and such a run is not a full one', () => {
    const o = parseOptions(['--profile', 'replicated', '--only', 'scaling,replication,scaling']);

    expect(o.only).toEqual(['scaling', 'replication']);
    expect(parseOptions([]).only).toBeUndefined();
    expect(parseOptions(['--only', 'kill']).full).toBe(false);
  });

  it('takes the results files to compare', () => {
    expect(parseOptions(['--compare', 'a.json, b.json']).compare).toEqual(['a.json', 'b.json']);
  });

  it('collects --env pairs for the replicas', () => {
    expect(parseOptions(['--env', 'LOG_LEVEL=warn', '--env', 'A_B=x=y']).appEnv).toEqual({
      LOG_LEVEL: 'warn',
      A_B: 'x=y',
    });
  });

  it.each([
    [['--profile', 'docker'], '--profile: unknown "docker"'],
    [['--clients', '0'], '--clients must be a whole number from 1 to 5000, not "0"'],
    [['--duration', 'ten'], '--duration must be a number'],
    [['--growth', '1000'], '--growth must be a whole number from 2000'],
    [['--env', 'lower=1'], '--env takes KEY=VALUE'],
    [['--rounds', '2.5'], '--rounds must be a whole number'],
    [['--only', 'throughput'], '--only: unknown "throughput"'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
    [['--compare', 'one.json'], '--compare needs two or more results files'],
  ])('refuses %j with a message that says what is wrong', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(UsageError);
    expect(() => parseOptions(argv)).toThrow(message);
  });
});
