/**
 * Bytes on the wire per read: a logged-in whoami as a browser sends it (its session cookie rides
 * along with every request) and the answer with its headers, counted on the socket to nginx. A
 * row that keeps the session in its cookie pays here what the others pay in a store lookup.
 */
import { connect } from 'node:net';
import { BROWSER_USER_AGENT } from '../../cluster/virtual-client.js';
import type { WireResult } from '../results.js';
import type { Subject } from '../subject.js';

const TIMEOUT_MS = 10_000;
const ATTEMPTS = 12;

const loggedIn = (response: Buffer) => response.toString('latin1').includes('"authenticated":true');

/** Sends `request` on a connection of its own and returns the whole answer (a 200, or throws). */
async function exchange(url: URL, localAddress: string, request: Buffer): Promise<Buffer> {
  const response = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), localAddress });
    const chunks: Buffer[] = [];
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error('whoami timed out')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    socket.write(request);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response.toString('latin1'))?.[1]);
  if (status !== 200) throw new Error(`whoami answered ${status || 'nothing'}`);
  return response;
}

export async function measureWire(s: Subject): Promise<WireResult> {
  const client = s.clients[0];
  if (!client) throw new Error('no logged-in client to measure with');
  const url = new URL(s.url);
  const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const head = [
    'GET /api/whoami HTTP/1.1',
    `Host: ${url.host}`,
    `User-Agent: ${BROWSER_USER_AGENT}`,
    'Accept: application/json',
    ...(cookie ? [`Cookie: ${cookie}`] : []),
    'Connection: close',
  ];
  const request = Buffer.from(`${head.join('\r\n')}\r\n\r\n`);
  // A row whose replicas do not share sessions and whose routing does not keep a client (naive)
  // answers as a stranger on all but one replica: asked again until its own replica answers.
  let response = await exchange(url, client.localAddress, request);
  for (let i = 1; s.topology.spec.login && !loggedIn(response) && i < ATTEMPTS; i++)
    response = await exchange(url, client.localAddress, request);
  if (s.topology.spec.login && !loggedIn(response))
    throw new Error(`the measuring client was not logged in on ${ATTEMPTS} answers`);
  return {
    requestBytes: request.length,
    responseBytes: response.length,
    cookieBytes: Buffer.byteLength(cookie),
  };
}
