import { WebSocket } from 'ws';

/**
 * Opens a WebSocket to a replica's peer port, sends `frames`, and resolves with how it ended:
 * `closed <code>` (the replica closed it), `http <status>` (no handshake), `error` (the connection
 * broke without a close frame) or `open` (still open after `waitMs`: the frames were dropped
 * quietly, as replays are). A close is waited for up to `waitMs`: pass a short wait only where
 * the connection is expected to stay open.
 */
export function peerExchange(
  url: string,
  frames: Array<string | Buffer>,
  waitMs = 10_000,
): Promise<string> {
  return new Promise<string>((resolve) => {
    const ws = new WebSocket(url, { maxPayload: 8 * 1024 * 1024 });
    const done = (outcome: string) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      ws.terminate();
      done('open');
    }, waitMs);
    ws.on('open', () => {
      frames.forEach((f) => {
        ws.send(f);
      });
    });
    ws.on('unexpected-response', (_req, res) => {
      done(`http ${String(res.statusCode)}`);
    });
    ws.on('close', (code) => {
      done(`closed ${code}`);
    });
    ws.on('error', () =>
      setTimeout(() => {
        done('error');
      }, 50),
    );
  });
}
