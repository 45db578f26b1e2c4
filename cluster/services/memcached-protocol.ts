import net from 'node:net';
import { defined } from '../../src/common/defined.js';

/**
 * One command over memcached's text protocol on its own connection, resolving the reply up to
 * its closing END (stats, get, lru_crawler metadump). For the runner's readiness check and the
 * benchmark's observer: a few calls, nothing on a request path.
 */
export function memcachedCommand(
  host: string,
  port: number,
  command: string,
  timeoutMs = 2_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    const finish = (outcome: Error | string): void => {
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => {
      finish(new Error(`no reply within ${timeoutMs} ms`));
    });
    socket.once('error', finish);
    socket.once('end', () => {
      finish(new Error('connection closed before memcached replied'));
    });
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      // metadump ends its lines with a bare \n, everything else with \r\n.
      if (/(^|\n)END\r\n$/.test(text)) finish(text.slice(0, -'END\r\n'.length));
      else if (/(^|\r\n)(CLIENT_|SERVER_)?ERROR[^\r\n]*\r\n$/.test(text))
        finish(new Error(`memcached answered ${text.trim().split('\r\n').at(-1) ?? ''}`));
    });
  });
}

/** `stats` as numbers by name. */
export async function memcachedStats(host: string, port: number): Promise<Map<string, number>> {
  const text = await memcachedCommand(host, port, 'stats');
  const stats = [...text.matchAll(/^STAT (\S+) (\S+)\r$/gm)];
  return new Map(stats.map(([, name, value]) => [defined(name, 'a stat name'), Number(value)]));
}
