import type { HttpClient } from './http-client.js';
import { sleep } from './eventually.js';
import { whoami } from './steps.js';

export interface Tally {
  requests: number;
  failed: Array<{ status: number; by?: string }>;
  loggedOut: number;
  /** Requests sent again once after a reset of their kept-alive connection. */
  retried: number;
}

/**
 * whoami as a browser sends it: nginx's reload closes its old workers' idle kept-alive
 * connections, and a request sent on one as it closes gets a reset. Browsers send such a GET
 * again at once (RFC 9110, 9.2.2), and so does this; a second reset is a failure (it rejects).
 */
export function whoamiAsBrowser(
  client: HttpClient,
  onRetry: () => void,
): ReturnType<typeof whoami> {
  return whoami(client).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
    onRetry();
    return whoami(client);
  });
}

/** Sends whoami from `clients` in a loop until `stop` resolves; counts failures and logouts. */
export function background(clients: HttpClient[], stop: Promise<unknown>): Promise<Tally> {
  const tally: Tally = { requests: 0, failed: [], loggedOut: 0, retried: 0 };
  let done = false;
  void stop.finally(() => (done = true));
  return Promise.all(
    clients.map(async (c) => {
      while (!done) {
        const res = await whoamiAsBrowser(c, () => tally.retried++).catch(() => ({
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
