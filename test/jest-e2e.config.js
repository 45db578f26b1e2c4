// Integration and e2e specs: real Postgres, Redis, nginx and Chromium started by the specs themselves.
/** @type {import('jest').Config} */
export default {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.e2e-spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 60_000,
  // it.concurrent specs (restart.e2e-spec.ts) run this many clusters at once: 2 cores.
  maxConcurrency: 2,
};
