import { createHash } from 'node:crypto';

/**
 * An order-independent fingerprint of a set of strings, updated in O(1) per change: the XOR of
 * their hashes. Two replicas holding the same entries (at the same versions) have the same
 * digest; heartbeats carry it, so a difference that stays is noticed without sending the state.
 */
export class SetDigest {
  private readonly value = Buffer.alloc(20);

  toggle(member: string): void {
    const h = createHash('sha1').update(member).digest();
    for (let i = 0; i < 20; i++) this.value.writeUInt8(this.value.readUInt8(i) ^ h.readUInt8(i), i);
  }

  toString(): string {
    return this.value.toString('base64url');
  }
}
