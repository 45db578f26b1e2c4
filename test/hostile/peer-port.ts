import { expect } from '@jest/globals';
import fc from 'fast-check';
import { FrameSigner, type Envelope } from '../../src/replication/channel/envelope.js';
import { CLOCK_WINDOW_MS } from '../../src/replication/channel/replay-guard.js';
import { peerExchange } from '../support/peer.js';
import type { HostilePort, Outcome } from './harness.js';

/** How far past the replay guard's clock window a stale frame is dated, at least. */
const STALE_MARGIN_MS = 5_000;

/** What reaches a replica's peer port, one hostile frame per case. */
export type PeerCase =
  | { kind: 'garbage'; text: string }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'unsigned' }
  | { kind: 'forged MAC'; mac: string }
  | { kind: 'wrong secret'; secret: string }
  | { kind: 'truncated'; keep: number }
  | { kind: 'flipped'; at: number }
  | { kind: 'stale'; skewMs: number }
  | { kind: 'earlier incarnation'; epoch: number }
  | { kind: 'misaddressed' }
  | { kind: 'oversized'; bytes: number };

export interface PeerTarget {
  /** ws://host:port/ of the replica under attack. */
  url: string;
  self: string;
  /** A real peer's name (in its list), and another replica to misaddress frames to. */
  peer: string;
  other: string;
  secret: string;
  /** What every signed frame asks for: the fixture session's end. */
  body: () => unknown;
}

const base64url = fc.string({
  unit: fc.constantFrom(
    ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''),
  ),
  minLength: 43,
  maxLength: 43,
});

/** Refusals that close the connection (unauthenticated), and those that drop the frame (replays). */
const CLOSES: Record<PeerCase['kind'], string> = {
  garbage: 'closed 1008',
  binary: 'closed 1008',
  unsigned: 'closed 1008',
  'forged MAC': 'closed 1008',
  'wrong secret': 'closed 1008',
  truncated: 'closed 1008',
  flipped: 'closed 1008',
  stale: 'open',
  'earlier incarnation': 'open',
  misaddressed: 'open',
  oversized: 'closed 1009',
};

/**
 * The replication peer port as a hostile-input port: unauthenticated, forged, tampered,
 * replayed, misaddressed and oversized frames, generated. Every one must be refused — the
 * connection closed (1008; 1009 for oversized) or the frame dropped — and change nothing.
 */
export class PeerPort implements HostilePort<PeerCase> {
  readonly name = 'peer port';
  readonly cases: fc.Arbitrary<PeerCase>;
  private readonly signer: FrameSigner;

  constructor(private readonly t: PeerTarget) {
    this.signer = new FrameSigner(t.secret);
    const sealedLength = this.signer.seal(this.envelope({})).length;
    this.cases = fc.oneof(
      fc.record({ kind: fc.constant('garbage' as const), text: fc.string({ maxLength: 300 }) }),
      fc.record({
        kind: fc.constant('binary' as const),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
      }),
      fc.record({ kind: fc.constant('unsigned' as const) }),
      fc.record({ kind: fc.constant('forged MAC' as const), mac: base64url }),
      fc.record({
        kind: fc.constant('wrong secret' as const),
        secret: fc.string({ minLength: 32, maxLength: 64 }),
      }),
      fc.record({
        kind: fc.constant('truncated' as const),
        keep: fc.integer({ min: 0, max: sealedLength - 1 }),
      }),
      fc.record({
        kind: fc.constant('flipped' as const),
        at: fc.integer({ min: 0, max: sealedLength - 1 }),
      }),
      fc.record({
        kind: fc.constant('stale' as const),
        // Clearly outside the window: a frame dated 1 ms past it into the future is inside it
        // again by the time it arrives (the receiver's clock moved on), and is rightly accepted.
        skewMs: fc.oneof(
          fc.integer({ min: CLOCK_WINDOW_MS + STALE_MARGIN_MS, max: 10 ** 9 }),
          fc.integer({ min: -(10 ** 9), max: -CLOCK_WINDOW_MS - STALE_MARGIN_MS }),
        ),
      }),
      fc.record({
        kind: fc.constant('earlier incarnation' as const),
        epoch: fc.integer({ min: 0, max: 10 ** 9 }),
      }),
      fc.record({ kind: fc.constant('misaddressed' as const) }),
      fc.record({
        kind: fc.constant('oversized' as const),
        bytes: fc.integer({ min: 1024 * 1024 + 1, max: 3 * 1024 * 1024 }),
      }),
    );
  }

  describe(c: PeerCase): string {
    const detail = JSON.stringify(c, (_, v: unknown) =>
      v instanceof Uint8Array
        ? `<${v.length} bytes>`
        : typeof v === 'string' && v.length > 60
          ? `${v.slice(0, 60)}…`
          : v,
    );
    return detail;
  }

  async probe(c: PeerCase): Promise<Outcome> {
    // A refusal that closes is waited for (bounded, however busy the machine); a frame dropped
    // quietly leaves the connection open, which a short wait shows.
    const closes = CLOSES[c.kind] !== 'open';
    const outcome = await peerExchange(this.t.url, [this.frame(c)], closes ? 10_000 : 150);
    expect({ case: c.kind, outcome }).toEqual({ case: c.kind, outcome: CLOSES[c.kind] });
    return { refused: true, label: `${c.kind}: ${outcome}` };
  }

  private frame(c: PeerCase): string | Buffer {
    const sealed = () => this.signer.seal(this.envelope({}));
    switch (c.kind) {
      case 'garbage':
        return c.text;
      case 'binary':
        return Buffer.from(c.bytes);
      case 'unsigned':
        return JSON.stringify(this.envelope({}));
      case 'forged MAC':
        return `${c.mac}.${JSON.stringify(this.envelope({}))}`;
      case 'wrong secret':
        return new FrameSigner(c.secret + 'x').seal(this.envelope({}));
      case 'truncated':
        return sealed().slice(0, c.keep);
      case 'flipped': {
        const s = sealed();
        return s.slice(0, c.at) + String.fromCharCode(s.charCodeAt(c.at) ^ 1) + s.slice(c.at + 1);
      }
      case 'stale':
        return this.signer.seal(this.envelope({ ts: Date.now() + c.skewMs, epoch: 10 ** 15 }));
      case 'earlier incarnation':
        return this.signer.seal(this.envelope({ epoch: c.epoch }));
      case 'misaddressed':
        return this.signer.seal(this.envelope({ to: this.t.other, epoch: 10 ** 15 }));
      case 'oversized':
        return 'x'.repeat(c.bytes);
    }
  }

  private envelope(o: Partial<Envelope>): Envelope {
    return {
      v: 1,
      from: this.t.peer,
      to: this.t.self,
      epoch: 1,
      seq: 1,
      ts: Date.now(),
      kind: 'msg',
      body: this.t.body(),
      ...o,
    };
  }
}
