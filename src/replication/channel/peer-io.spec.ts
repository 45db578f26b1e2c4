import { afterEach, describe, expect, it } from '@jest/globals';
import type { InboundFrame } from './inbound-port.js';
import { ThreadIo } from './peer-io.js';

const OPTIONS = {
  self: 'me',
  host: '127.0.0.1',
  port: 0,
  peers: ['peer'],
  secret: 'k'.repeat(43),
  maxFrameBytes: 1024,
  authenticateWithinMs: 1000,
  threadPriority: 'normal' as const,
};
const STAND_IN = new URL('./peer-io.spec-worker.mjs', import.meta.url);
const bodyOf = (f: InboundFrame) => (f.envelope.body as { n: number }).n;

/** Keeps this thread busy (no event-loop turn) until `done()` or 5 s. */
function busyUntil(done: () => boolean): void {
  const end = Date.now() + 5000;
  while (!done() && Date.now() < end);
}

/** Lets this thread's event loop run until `done()` (or 5 s). */
async function until(done: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

describe('ThreadIo (a real worker thread, with a stand-in script)', () => {
  const open: ThreadIo[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((i) => i.close()));
  });

  async function inbox(frame: (f: InboundFrame, io: ThreadIo) => void) {
    const logs: string[] = [];
    const details: Array<Record<string, unknown>> = [];
    const links: string[] = [];
    const box: ThreadIo = new ThreadIo(
      OPTIONS,
      {
        frame: (f) => {
          frame(f, box);
        },
        open: (peer) => links.push(`open ${peer}`),
        closed: (peer) => links.push(`closed ${peer}`),
        ownAddress: () => undefined,
        log: (message, detail) => {
          logs.push(message);
          details.push(detail);
        },
      },
      STAND_IN,
    );
    open.push(box);
    await box.start();
    return { box, logs, details, links };
  }

  it('hands over, synchronously, what arrived while this thread was busy', async () => {
    const got: number[] = [];
    const { box } = await inbox((f) => got.push(bodyOf(f)));
    box.reply(1, 'send 5');
    // No event-loop turn from here on: only drain() can deliver. The worker queues meanwhile.
    const started = Date.now();
    busyUntil(() => Date.now() - started > 300);
    expect(got).toEqual([]);
    box.drain();
    expect(got).toEqual([1, 2, 3, 4, 5]);
    box.drain(); // nothing left: nothing twice
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('delivers by itself when this thread is idle, logs included', async () => {
    const got: number[] = [];
    const { box, logs } = await inbox((f) => got.push(bodyOf(f)));
    box.reply(1, 'send 3');
    await until(() => logs.length > 0);
    expect(got).toEqual([1, 2, 3]);
    expect(logs).toEqual(['sent']);
  });

  it('applies one frame at a time: a handler that drains does not get later frames inside it', async () => {
    const order: string[] = [];
    const { box } = await inbox((f, me) => {
      order.push(`start ${bodyOf(f)}`);
      me.drain(); // as a handler that reads the replicated state does
      order.push(`end ${bodyOf(f)}`);
    });
    box.reply(1, 'send 3');
    const started = Date.now();
    busyUntil(() => Date.now() - started > 300);
    box.drain();
    expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('hands the frames for every peer over in one message, in order', async () => {
    const { box, logs, details } = await inbox(() => undefined);
    box.send([
      { to: 'a', kind: 'msg', frame: 'for a' },
      { to: 'b', kind: 'msg', frame: 'for b' },
    ]);
    box.send([]); // nothing to hand over: no message
    box.send([{ to: 'a', kind: 'beat', frame: 'beat a' }]);
    await until(() => logs.length >= 2);
    expect(details).toEqual([
      { handovers: 1, to: ['a', 'b'], frames: ['for a', 'for b'] },
      { handovers: 2, to: ['a'], frames: ['beat a'] },
    ]);
  });

  it("passes on the connections' events in the order they happened", async () => {
    const { box, links } = await inbox(() => undefined);
    box.drop('peer');
    await until(() => links.length >= 2);
    expect(links).toEqual(['closed peer', 'open peer']);
  });
});
