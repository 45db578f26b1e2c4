// The compose stage (npm run test:compose): docker-compose.yml on a real Docker engine, which
// scripts/test-compose starts (and stops) around this run. As the e2e specs, other files.
import e2e from './jest-e2e.config.js';

/** @type {import('jest').Config} */
export default { ...e2e, testMatch: ['**/*.compose-spec.ts'] };
