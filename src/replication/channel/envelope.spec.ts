import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FrameSigner, type Envelope } from './envelope.js';

const SECRET = 's'.repeat(43);
const envelope: Envelope = {
  v: 1,
  from: 'app-1',
  to: 'app-2',
  epoch: 1,
  seq: 1,
  ts: 2,
  kind: 'msg',
  body: { t: 'delta', items: [] },
};

describe('FrameSigner', () => {
  const signer = new FrameSigner(SECRET);

  it('opens what it sealed', () => {
    expect(signer.open(signer.seal(envelope))).toEqual({ envelope });
  });

  it('refuses any change to a sealed frame: a flipped, cut or added character', () => {
    const sealed = signer.seal(envelope);
    fc.assert(
      fc.property(
        fc.nat({ max: sealed.length - 1 }),
        fc.constantFrom('flip', 'cut', 'add'),
        (at, how) => {
          const tampered =
            how === 'cut'
              ? sealed.slice(0, at)
              : how === 'add'
                ? sealed.slice(0, at) + 'x' + sealed.slice(at)
                : sealed.slice(0, at) +
                  String.fromCharCode(sealed.charCodeAt(at) ^ 1) +
                  sealed.slice(at + 1);
          expect(signer.open(tampered)).toHaveProperty('refused');
        },
      ),
    );
  });

  it('refuses frames signed with another secret, and anything that is not a frame', () => {
    const other = new FrameSigner('o'.repeat(43));
    expect(signer.open(other.seal(envelope))).toEqual({ refused: 'bad MAC' });
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(signer.open(s)).toHaveProperty('refused');
      }),
    );
  });

  it('refuses an authenticated frame whose envelope is malformed', () => {
    const bad = { ...envelope, kind: 'shell' } as unknown as Envelope;
    expect(signer.open(signer.seal(bad))).toEqual({ refused: 'bad envelope' });
  });
});
