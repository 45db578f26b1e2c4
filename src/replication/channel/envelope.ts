import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * One frame on the peer channel: `<mac>.<json>`, the MAC an HMAC-SHA256 over the JSON text as
 * sent. It is checked before the JSON is parsed, so an unauthenticated sender cannot even reach
 * the parser; the envelope says who sent it to whom and when, for the replay guard.
 */
export const envelopeSchema = z.strictObject({
  v: z.literal(1),
  from: z.string().min(1).max(64),
  to: z.string().min(1).max(64),
  /** The sender's incarnation (its start time): a restarted sender starts a new sequence. */
  epoch: z.number().int().nonnegative(),
  seq: z.number().int().positive(),
  /** Sender's clock, ms: frames outside the replay guard's window are refused. */
  ts: z.number().int().nonnegative(),
  kind: z.enum(['msg', 'req', 'res', 'beat']),
  /** Request id, for `req` and its `res`. */
  id: z.number().int().nonnegative().optional(),
  body: z.unknown(),
});

export type Envelope = z.infer<typeof envelopeSchema>;

const MAC_LENGTH = 43; // base64url of 32 bytes

export class FrameSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(secret, 'utf8');
  }

  seal(envelope: Envelope): string {
    const json = JSON.stringify(envelope);
    return `${this.mac(json)}.${json}`;
  }

  /** The envelope, or why the frame is refused (nothing in it is trusted before the MAC). */
  open(frame: string): { envelope: Envelope } | { refused: string } {
    if (frame.length <= MAC_LENGTH + 1 || frame[MAC_LENGTH] !== '.')
      return { refused: 'malformed frame' };
    const given = Buffer.from(frame.slice(0, MAC_LENGTH), 'utf8');
    const json = frame.slice(MAC_LENGTH + 1);
    const expected = Buffer.from(this.mac(json), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { refused: 'bad MAC' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      // Only a peer holding the secret gets here: a bug, or a truncated frame re-signed.
      return { refused: 'authenticated but not JSON' };
    }
    const result = envelopeSchema.safeParse(parsed);
    return result.success ? { envelope: result.data } : { refused: 'bad envelope' };
  }

  /**
   * Proves, in the peer port's handshake, that this replica holds the cluster secret: an HMAC over
   * the caller's random challenge and our name. Membership by DNS or a file says who *may* be at an
   * address; a connection counts only once the other end has proved the secret, so nothing is
   * sent to a stranger that appears there.
   */
  prove(challenge: string, name: string): string {
    return this.mac(`peer-proof\n${challenge}\n${name}`);
  }

  checkProof(challenge: string, name: string, proof: string): boolean {
    const expected = Buffer.from(this.prove(challenge, name), 'utf8');
    const given = Buffer.from(proof, 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(json: string): string {
    return createHmac('sha256', this.key).update(json, 'utf8').digest('base64url');
  }
}
