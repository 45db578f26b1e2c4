#!/usr/bin/env node
// Runs the generated hostile-input suite alone, for as long as you like:
//   npm run test:hostile -- --runs 20000 --seed 42 [--path <fast-check replay path>]
//                           [--verbose-cases] [jest options]
// The flags become HOSTILE_RUNS / HOSTILE_SEED / HOSTILE_PATH / HOSTILE_VERBOSE for test/hostile-input.e2e-spec.ts;
// anything else goes to Jest. `npm run test:e2e` runs the same spec with the CI defaults.
import { spawnSync } from 'node:child_process';

const env = { ...process.env };
const jestArgs = [];
const flags = { '--runs': 'HOSTILE_RUNS', '--seed': 'HOSTILE_SEED', '--path': 'HOSTILE_PATH' };
const switches = { '--verbose-cases': 'HOSTILE_VERBOSE' };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split(/=(.*)/s);
  if (flag in switches) {
    env[switches[flag]] = '1';
  } else if (flag in flags) {
    const value = inline ?? args[++i];
    if (value === undefined) {
      console.error(`${flag} needs a value`);
      process.exit(2);
    }
    env[flags[flag]] = value;
  } else {
    jestArgs.push(args[i]);
  }
}

const run = (command, argv, extraEnv = {}) =>
  spawnSync(command, argv, { stdio: 'inherit', env: { ...env, ...extraEnv } }).status ?? 1;

let status = run(process.execPath, ['scripts/ensure-built.mjs']);
if (status === 0) {
  status = run(
    process.execPath,
    [
      'node_modules/jest/bin/jest.js',
      '--config',
      'test/jest-e2e.config.js',
      '--runInBand',
      'test/hostile-input.e2e-spec.ts',
      ...jestArgs,
    ],
    { NODE_OPTIONS: [env.NODE_OPTIONS, '--experimental-vm-modules'].filter(Boolean).join(' ') },
  );
}
process.exit(status);
