/**
 * Talking to a Redis server (or Sentinel) without a long-lived client: one command on its own
 * connection, and the PING + INFO exchange that tells which process answers on a port.
 */
import net from 'node:net';
import { createClient } from 'redis';

/**
 * One command to the server on `host`:`port` (loopback unless told), on a connection of its own. Rejects at once
 * when nothing answers there (node-redis would otherwise retry the connect forever).
 */
export async function askRedis<T>(port: number, command: string[], host = '127.0.0.1'): Promise<T> {
  const client = createClient({
    // A refused connect fails at once; the timeout is only for a stalled machine (on two busy
    // cores, CI once timed out after 1 s connecting to a cluster node the runner had just started).
    socket: { host, port, connectTimeout: 5000, reconnectStrategy: false },
  });
  client.on('error', () => undefined); // a refused connect rejects connect() below
  await client.connect();
  try {
    return await client.sendCommand<T>(command);
  } finally {
    client.destroy();
  }
}

/**
 * Sends `PING` and `INFO server` on one raw RESP connection and resolves the answering
 * server's process_id. The PID is how a starter knows the answer came from the server it just
 * spawned, not from another one that already held the port. Rejects unless PING gets +PONG
 * (e.g. "-LOADING" while Redis replays its append-only file), so a timeout says why.
 */
export function redisProcessId(host: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    const finish = (outcome: Error | number): void => {
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => {
      finish(new Error(`no reply within ${timeoutMs} ms`));
    });
    socket.once('error', finish);
    socket.once('end', () => {
      finish(new Error('connection closed before Redis replied'));
    });
    socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const outcome = parseReplies(received);
      if (outcome !== undefined) finish(outcome);
    });
  });
}

/** The process_id, an Error for a bad reply, or undefined while the replies are incomplete. */
function parseReplies(data: Buffer): number | Error | undefined {
  const pingEnd = data.indexOf('\r\n');
  if (pingEnd === -1) return undefined;
  const pong = data.subarray(0, pingEnd).toString();
  if (pong !== '+PONG') return new Error(`PING answered ${pong}`);

  // INFO's reply is a bulk string: "$<byte length>\r\n<bytes>\r\n".
  const headerEnd = data.indexOf('\r\n', pingEnd + 2);
  if (headerEnd === -1) return undefined;
  const header = data.subarray(pingEnd + 2, headerEnd).toString();
  if (!header.startsWith('$')) return new Error(`INFO answered ${header}`);
  const body = data.subarray(headerEnd + 2, headerEnd + 2 + Number(header.slice(1)));
  if (body.length < Number(header.slice(1))) return undefined;
  const match = /^process_id:(\d+)/m.exec(body.toString());
  return match ? Number(match[1]) : new Error('INFO server has no process_id');
}
