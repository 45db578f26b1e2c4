// Unit specs: src/, cluster/, bench/, docs/tooling/ and test/model/ (**/*.spec.ts). Fast, no external processes.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: [
    '<rootDir>/src',
    '<rootDir>/cluster',
    '<rootDir>/bench',
    '<rootDir>/docs',
    '<rootDir>/test/model',
  ],
  testMatch: ['**/*.spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};
