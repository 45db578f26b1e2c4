/**
 * The peer port's thread (see inbox.ts): runs the InboundPort and hands every verified frame to
 * the replica's main thread over a MessagePort; takes replies and "close" back on the same port.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { workerData, type MessagePort } from 'node:worker_threads';
import { InboundPort, type InboundOptions } from './inbound-port.js';
import type { FromInbox, ToInbox } from './inbox.js';

const { options, port } = workerData as { options: InboundOptions; port: MessagePort };
const post = (m: FromInbox) => port.postMessage(m);

const inbound = new InboundPort(
  { ...options, countWork: true },
  {
    frame: (frame) => post({ t: 'frame', frame }),
    log: (message, detail) => post({ t: 'log', message, detail }),
  },
);

port.on('message', (m: ToInbox) => {
  if (m.t === 'reply') inbound.reply(m.conn, m.frame);
  else void inbound.close().then(() => port.close());
});

/**
 * This thread only reads, checks and queues frames (microseconds each), but when every core is
 * busy it waits for one like any thread, and the wait is replication lag. A higher priority
 * (nice -10, this thread only) lets it run as soon as a frame arrives. It needs root or
 * CAP_SYS_NICE; without, the thread keeps the default priority and says so once.
 */
function raisePriority(): string | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, -10);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const priority = raisePriority();
if (priority)
  post({
    t: 'log',
    message: 'peer port thread keeps the default priority',
    detail: { reason: priority },
  });

inbound.start().then(
  () => post({ t: 'listening' }),
  (err: unknown) => post({ t: 'failed', error: err instanceof Error ? err.message : String(err) }),
);
