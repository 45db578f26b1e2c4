// The process layer of the native runner and its server plugins, for the tests and the benchmark.
export { freePort, tcpConnect, waitForPort } from './process/ports.js';
export {
  ManagedProcess,
  describeExit,
  runToCompletion,
  type ExitStatus,
  type ManagedProcessOptions,
  type ReadyOptions,
  type StopOptions,
} from './process/managed-process.js';
export { startPostgres, type PostgresOptions, type PostgresServer } from './services/postgres.js';
export { redisProcessId, startRedis, type RedisServer } from './services/redis.js';
export { readLogTail } from './process/log-tail.js';
export { descendantsOf, stillRunning, type ProcessEntry } from './process/process-tree.js';
