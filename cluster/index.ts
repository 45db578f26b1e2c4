// The process layer of the native runner: real servers on loopback, owned and stopped by PID.
export { freePort, tcpConnect, waitForPort } from './ports.js';
export {
  ManagedProcess,
  describeExit,
  runToCompletion,
  type ExitStatus,
  type ManagedProcessOptions,
  type ReadyOptions,
  type StopOptions,
} from './managed-process.js';
export { startPostgres, type PostgresOptions, type PostgresServer } from './postgres.js';
export { startRedis, type RedisOptions, type RedisServer } from './redis.js';
export { ping as pingRedis, redisProcessId } from './redis-probe.js';
export { readLogTail } from './log-tail.js';
export { descendantsOf, stillRunning, type ProcessEntry } from './process-tree.js';
