import net, { type AddressInfo } from 'node:net';
import { errorMessage, pollUntil } from './poll.js';

/** Ports this process handed out lately, and when: the kernel may offer one again right away. */
const handedOut = new Map<number, number>();
const REMEMBER_MS = 60_000;

/**
 * A free port: asks the kernel by listening on port 0, and never returns a port it returned in
 * the last minute (the kernel can offer a closed port again at once, and a cluster asks for
 * several before it starts anything: nginx once got the same port for http and https).
 * The port is free when this returns, not reserved: start the server soon after.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await kernelFreePort(host);
    const now = Date.now();
    for (const [p, at] of handedOut) if (now - at > REMEMBER_MS) handedOut.delete(p);
    if (!handedOut.has(port)) {
      handedOut.set(port, now);
      return port;
    }
  }
  throw new Error(`no free port on ${host} that was not handed out in the last minute`);
}

async function kernelFreePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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
