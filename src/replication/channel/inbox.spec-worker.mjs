// A stand-in for inbox.worker.js in inbox.spec.ts: the same protocol, no peer port. Asked with
// a reply frame "send N", it posts N frames; "close" ends it.
import { performance } from 'node:perf_hooks';
import { workerData } from 'node:worker_threads';

const { port } = workerData;
const frame = (n) => ({
  t: 'frame',
  frame: {
    envelope: { v: 1, from: 'peer', to: 'me', epoch: 1, seq: n, ts: 0, kind: 'msg', body: { n } },
    conn: 1,
    bytes: 10,
    receivedAt: performance.timeOrigin + performance.now(),
  },
});
port.on('message', (m) => {
  if (m.t === 'close') return port.close();
  const count = Number(/^send (\d+)$/.exec(m.frame)?.[1] ?? 0);
  for (let n = 1; n <= count; n++) port.postMessage(frame(n));
  port.postMessage({ t: 'log', message: 'sent', detail: { count } });
});
port.postMessage({ t: 'listening' });
