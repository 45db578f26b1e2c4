/**
 * The value, or an error that names what was missing: what `noUncheckedIndexedAccess` asks of an
 * index read the code knows is there and the compiler cannot. In a test, the error fails the test
 * (unlike `expect(x).toBeDefined()`, the compiler sees the narrowing). The app, the runner, the
 * benchmark and the tests share this one; the replication core, which imports nothing outside
 * itself, narrows with its own checks.
 */
export function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}, found nothing`);
  return value;
}
