import type { HttpClient } from './http-client.js';
import { sleep } from './eventually.js';
import { whoami } from './steps.js';

export interface Tally {
  requests: number;
  failed: Array<{ status: number; by?: string }>;
  loggedOut: number;
}

/** Sends whoami from `clients` in a loop until `stop` resolves; counts failures and logouts. */
export function background(clients: HttpClient[], stop: Promise<unknown>): Promise<Tally> {
  const tally: Tally = { requests: 0, failed: [], loggedOut: 0 };
  let done = false;
  void stop.finally(() => (done = true));
  return Promise.all(
    clients.map(async (c) => {
      while (!done) {
        const res = await whoami(c).catch(() => ({
          status: 0,
          body: undefined,
          servedBy: undefined,
        }));
        tally.requests++;
        if (res.status !== 200) tally.failed.push({ status: res.status, by: res.servedBy });
        else if (!(res.body as { authenticated: boolean }).authenticated) tally.loggedOut++;
        await sleep(10);
      }
    }),
  ).then(() => tally);
}
