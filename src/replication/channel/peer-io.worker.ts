/**
 * The peer channel's thread (see peer-io.ts): runs the peer port and this replica's connections
 * to its peers. Hands every verified frame to the replica's main thread over a MessagePort, with
 * the CPU it cost; writes the frames the main thread sealed; closes on "close".
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { InboundPort, type InboundFrame } from './inbound-port.js';
import { OutboundLinks } from './outbound-links.js';
import type { FromIo, PeerIoOptions, ToIo } from './peer-io.js';
import { WorkMeter } from './thread-cpu.js';
import { raiseThreadPriority } from './thread-priority.js';

const { options, port } = workerData as { options: PeerIoOptions; port: MessagePort };
const post = (m: FromIo) => {
  port.postMessage(m);
};
const meter = new WorkMeter();
const events = {
  frame: (f: InboundFrame) => {
    const work = meter.take();
    post({ t: 'frame', frame: work ? { ...f, work } : f });
  },
  open: (peer: string, address: string) => {
    post({ t: 'open', peer, address });
  },
  closed: (peer: string) => {
    post({ t: 'closed', peer });
  },
  ownAddress: (address: string) => {
    post({ t: 'own', address });
  },
  log: (message: string, detail: Record<string, unknown>) => {
    post({ t: 'log', message, detail });
  },
};
const inbound = new InboundPort(options, events, meter);
const links = new OutboundLinks(options, events, meter);

port.on('message', (m: ToIo) => {
  switch (m.t) {
    case 'send':
      for (const f of m.frames) {
        meter.begin(f.kind);
        links.send(f.to, f.frame);
      }
      return;
    case 'reply':
      meter.begin('res');
      {
        inbound.reply(m.conn, m.frame);
        return;
      }
    case 'drop': {
      links.drop(m.peer);
      return;
    }
    case 'members': {
      links.setMembers(m.members);
      return;
    }
    case 'close':
      links.close();
      return void inbound.close().then(() => {
        port.close();
      });
  }
});

/**
 * This thread only reads, checks, queues and writes frames (microseconds each), but when every
 * core is busy it waits for one like any thread, and the wait is replication lag: it asks for a
 * higher priority (REPLICATION_THREAD_PRIORITY, see thread-priority.ts), and says so once if it
 * may not have it.
 */
const priority = raiseThreadPriority(options.threadPriority);
if (priority.got !== options.threadPriority)
  post({
    t: 'log',
    message: `the peer channel's thread runs at priority "${priority.got}"`,
    detail: { wanted: options.threadPriority, reason: priority.reason },
  });

inbound.start().then(
  () => {
    post({ t: 'listening' });
  },
  (err: unknown) => {
    post({ t: 'failed', error: err instanceof Error ? err.message : String(err) });
  },
);
