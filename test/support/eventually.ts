import { pollUntil } from '../../cluster/process/poll.js';

export { sleep } from '../../cluster/process/poll.js';

/**
 * Polls `check` until it is true or `timeoutMs` passes (a check that throws counts as "not yet");
 * says whether it became true. The one bounded wait of the specs: assert on its result.
 */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<boolean> {
  return (await pollUntil(check, { timeoutMs, intervalMs })).ok;
}
