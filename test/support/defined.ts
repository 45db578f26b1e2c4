/**
 * The value, or a failed test that names what was missing. Unlike `expect(x).toBeDefined()`, the
 * compiler sees the narrowing: what `noUncheckedIndexedAccess` asks of an index read in a test.
 */
export function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}, found nothing`);
  return value;
}
