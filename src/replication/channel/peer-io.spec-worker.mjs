// A stand-in for peer-io.worker.js in peer-io.spec.ts: the same protocol, no sockets.
// - a reply whose frame is "send N": posts N frames;
// - send: posts a log "wrote" saying how many hand-overs so far and to whom this one was;
// - drop: posts "closed", then "open" (the connection coming back);
// - close: ends it.
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
let handovers = 0;
port.on('message', (m) => {
  if (m.t === 'close') return port.close();
  if (m.t === 'send') {
    handovers++;
    const detail = {
      handovers,
      to: m.frames.map((f) => f.to),
      frames: m.frames.map((f) => f.frame),
    };
    return port.postMessage({ t: 'log', message: 'wrote', detail });
  }
  if (m.t === 'drop') {
    port.postMessage({ t: 'closed', peer: m.peer });
    return port.postMessage({ t: 'open', peer: m.peer });
  }
  const count = Number(/^send (\d+)$/.exec(m.frame)?.[1] ?? 0);
  for (let n = 1; n <= count; n++) port.postMessage(frame(n));
  port.postMessage({ t: 'log', message: 'sent', detail: { count } });
});
port.postMessage({ t: 'listening' });
