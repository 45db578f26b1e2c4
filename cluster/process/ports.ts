import net, { type AddressInfo } from 'node:net';
import { errorMessage, pollUntil } from './poll.js';

/**
 * Ports this process handed out lately, when, and to whom (for reclaimPort): the kernel may offer
 * one again right away.
 */
const handedOut = new Map<number, { at: number; owner?: string }>();
const REMEMBER_MS = 60_000;

/**
 * A free port: asks the kernel by listening on port 0, and never returns a port it returned in
 * the last minute (the kernel can offer a closed port again at once, and a cluster asks for
 * several before it starts anything: nginx once got the same port for http and https).
 * The port is free when this returns, not reserved: start the server soon after.
 */
export async function freePort(host = '127.0.0.1', max = 65535, owner?: string): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await listenOnce(host, 0);
    if (port !== undefined && port <= max && claim(port, owner)) return port;
  }
  throw new Error(
    `no free port up to ${max} on ${host} that was not handed out in the last minute`,
  );
}

/**
 * Takes `port` again for `owner` (a server that keeps its address from one run to the next) if
 * it is free now and was not handed out to anyone else in the last minute; false when it is not
 * to be had.
 */
export async function reclaimPort(
  port: number,
  owner: string,
  host = '127.0.0.1',
): Promise<boolean> {
  return !heldByOther(port, owner) && (await listenOnce(host, port)) === port && claim(port, owner);
}

/** Whether the port went to someone other than `owner` (anyone, for no owner) in the last minute. */
/** Keeps `port` from being handed out here for a minute: a port the caller will bind itself. */
export function reservePort(port: number): void {
  handedOut.set(port, { at: Date.now(), owner: 'reserved' });
}

/** Whether nothing listens on `port` now (it may be taken a moment later). */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return (await listenOnce(host, port)) === port;
}

function heldByOther(port: number, owner?: string): boolean {
  const now = Date.now();
  for (const [p, { at }] of handedOut) if (now - at > REMEMBER_MS) handedOut.delete(p);
  const holder = handedOut.get(port);
  return holder !== undefined && (owner === undefined || holder.owner !== owner);
}

function claim(port: number, owner?: string): boolean {
  if (heldByOther(port, owner)) return false;
  handedOut.set(port, { at: Date.now(), owner });
  return true;
}

/** Listens on `port` (0: any) and closes again; the port it got, or undefined if it was taken. */
async function listenOnce(host: string, port: number): Promise<number | undefined> {
  const server = net.createServer();
  const listening = await new Promise<boolean>((resolve, reject) => {
    // A given port that can't be had (in use, not permitted, ...) is simply not free.
    server.once('error', (error) => {
      if (port !== 0) resolve(false);
      else reject(error);
    });
    server.listen(port, host, () => {
      resolve(true);
    });
  });
  if (!listening) return undefined;
  const { port: got } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return got;
}

/** One TCP connect attempt; rejects on refusal or after `timeoutMs`. Always destroys the socket. */
export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

/** Resolves once something accepts TCP connections on host:port; rejects after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const outcome = await pollUntil(
    async () => {
      await tcpConnect(host, port, 1_000);
      return true;
    },
    { timeoutMs },
  );
  if (!outcome.ok) {
    const last = outcome.lastError ? ` (last error: ${errorMessage(outcome.lastError)})` : '';
    throw new Error(
      `Nothing accepted TCP connections on ${host}:${port} within ${timeoutMs} ms${last}`,
    );
  }
}
