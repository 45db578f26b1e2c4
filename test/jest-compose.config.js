// The compose stage (npm run test:compose): docker-compose.yml on a real Docker engine, which
// scripts/test-compose starts (and stops) around this run. One profile after another.
/** @type {import('jest').Config} */
export default {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.compose-spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 60_000,
};
