import { afterEach, describe, expect, it } from '@jest/globals';
import { WebSocket } from 'ws';
import { freePort } from '../../../cluster/process/ports.js';
import { PeerChannel } from './peer-channel.js';

const SECRET = 'k'.repeat(43);
const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('PeerChannel over loopback', () => {
  const open: PeerChannel[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  async function pair() {
    const [pa, pb] = [await freePort(), await freePort()];
    const logs: string[] = [];
    const make = (self: string, port: number, peer: string, peerPort: number) =>
      new PeerChannel({
        self,
        host: '127.0.0.1',
        port,
        peers: [{ name: peer, host: '127.0.0.1', port: peerPort }],
        secret: SECRET,
        log: (m, d) => logs.push(`${self}: ${m} ${JSON.stringify(d)}`),
        heartbeatMs: 50,
        authenticateWithinMs: 300,
        io: 'inline',
      });
    const a = make('a', pa, 'b', pb);
    const b = make('b', pb, 'a', pa);
    open.push(a, b);
    await Promise.all([a.start(), b.start()]);
    await until(() => a.livePeers().includes('b') && b.livePeers().includes('a'));
    return { a, b, logs, pb };
  }

  it('delivers messages, answers requests, carries beacons', async () => {
    const { a, b } = await pair();
    const got: unknown[] = [];
    const beacons: unknown[] = [];
    b.setBeacon(() => ({ ready: true }));
    a.listen({ message: () => undefined, beacon: (_, beacon) => beacons.push(beacon) });
    b.listen({ message: (from, body) => (got.push([from, body]), { echo: body }) });
    a.send('b', { hello: 1 });
    await expect(a.request('b', { ask: 2 }, 2000)).resolves.toEqual({ echo: { ask: 2 } });
    expect(got).toEqual([
      ['a', { hello: 1 }],
      ['a', { ask: 2 }],
    ]);
    // Heartbeats already on their way carry the beacon from before setBeacon: wait for a new one.
    await until(() => beacons.some((b) => (b as { ready?: boolean } | null)?.ready === true));
    expect(a.traffic.framesSent.msg).toBe(1);
  });

  it('counts the CPU of its own work on a frame, on the sender and on the receiver, handling included', async () => {
    const { a, b } = await pair();
    let handled = false;
    b.listen({
      message: () => {
        // A handler that burns 20 ms of CPU: the receiver's work must include it.
        const start = process.cpuUsage();
        const burnt = () => ((u) => u.user + u.system)(process.cpuUsage(start));
        while (burnt() < 20_000);
        handled = true;
      },
    });
    const before = { a: a.traffic.workMicros.msg, b: b.traffic.workMicros.msg };
    a.send('b', { hello: 1 });
    await until(() => handled);
    expect(a.traffic.workMicros.msg).toBeGreaterThan(before.a);
    expect(b.traffic.workMicros.msg - before.b).toBeGreaterThanOrEqual(20_000);
    expect(b.traffic.snapshot().workMicros).toBe(b.traffic.workMicros);
  });

  it('a request to a peer that goes away fails instead of hanging; it is found again on return', async () => {
    const { a, b } = await pair();
    const downs: string[] = [];
    a.listen({ message: () => undefined, peerDown: (p) => downs.push(p) });
    b.listen({ message: () => new Promise(() => undefined) }); // never answers
    const pending = a.request('b', {}, 60_000);
    await b.close();
    await expect(pending).rejects.toThrow(/b went down/);
    expect(downs).toEqual(['b']);
  });

  it('closes the connection of whoever sends an unsigned frame, and logs it', async () => {
    const { logs, pb, b } = await pair();
    const received: unknown[] = [];
    b.listen({ message: (_, body) => received.push(body) });
    const ws = new WebSocket(`ws://127.0.0.1:${pb}/`);
    await new Promise((r) => ws.on('open', r));
    const closed = new Promise<number>((r) =>
      ws.on('close', (code) => {
        r(code);
      }),
    );
    ws.send('{"t":"destroyed"}');
    expect(await closed).toBe(1008);
    expect(received).toEqual([]);
    expect(logs.some((l) => l.includes('peer frame refused') && l.includes('malformed'))).toBe(
      true,
    );
  });

  it('closes a connection that sends nothing authenticated in time', async () => {
    const { logs, pb } = await pair();
    const ws = new WebSocket(`ws://127.0.0.1:${pb}/`);
    const closed = new Promise<number>((r) =>
      ws.on('close', (code) => {
        r(code);
      }),
    );
    expect(await closed).toBe(1008);
    expect(logs.some((l) => l.includes('no authenticated frame in time'))).toBe(true);
  });
});
