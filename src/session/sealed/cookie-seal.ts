import { hash, hkdfSync } from 'node:crypto';
import { decodeProtectedHeader, EncryptJWT, jwtDecrypt } from 'jose';
import { z } from 'zod';
import type { SessionMeta } from '../session.types.js';

/**
 * The whole session sealed into its cookie, for the `stateless` rows: a JWE (RFC 7516) in compact
 * form, `dir` + `A256GCM`, made and opened by `jose`. AES-256-GCM is an AEAD: a cookie the client
 * changed by one bit does not open, and what is inside cannot be read. jose is chosen for being a
 * standard format (another stack can open the cookie), for checking `exp` itself, and for having
 * no dependencies; `iron-session` seals with CBC + HMAC in a format of its own, `cookie-session`
 * only signs (the session would be readable in the browser).
 *
 * Keys come from SESSION_SECRET, newest first, as express-session's signing does: one 256-bit key
 * per secret (HKDF-SHA256), named in the header by a short hash (`kid`). A cookie is sealed with the
 * newest key and opened with whichever key its `kid` names, so during a rotation both secrets are
 * accepted; a cookie whose key was retired opens with none. Its expiry is `exp`, inside the seal.
 */

/** What a sealed cookie holds: the session's id (its name in revocations) and its data. */
export interface Sealed {
  sid: string;
  data: SealedData;
  /** When the cookie stops opening, epoch ms (whole seconds: `exp` is a NumericDate). */
  expiresAt: number;
}

const principal = z.strictObject({
  id: z.string().max(64),
  username: z.string().max(64),
  displayName: z.string().max(256),
});
const meta = z.strictObject({
  createdAt: z.number().int().nonnegative(),
  lastSeenAt: z.number().int().nonnegative(),
  ip: z.string().max(64),
  userAgent: z.string().max(128),
  replica: z.string().max(64),
}) satisfies z.ZodType<SessionMeta>;
/** Exactly what the app keeps in a session; anything else in a cookie refuses it. */
const data = z.strictObject({
  passport: z.strictObject({ user: principal.optional() }).optional(),
  meta: meta.optional(),
});
export type SealedData = z.infer<typeof data>;
const payload = z.object({ sid: z.string().regex(/^[\w-]{43}$/), s: data });

/**
 * Browsers keep at least 4096 bytes of name, value and attributes per cookie (RFC 6265 §6.1); the
 * value gets what is left after 256 bytes for the name and the attributes.
 */
export const MAX_SEALED_BYTES = 4096 - 256;

/** A session that does not fit into one cookie: refused, never cut short. */
export class SessionTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`the session needs a ${bytes}-byte cookie; a cookie holds at most ${limit} bytes`);
  }
}

export interface SealKey {
  kid: string;
  key: Uint8Array;
}

/** A secret's 256-bit key (HKDF-SHA256) and its name in a cookie's header (`kid`). */
export function sealKey(secret: string): SealKey {
  const key = new Uint8Array(
    hkdfSync('sha256', secret, 'scaled-login', 'session cookie, A256GCM', 32),
  );
  return { kid: hash('sha256', key, 'base64url').slice(0, 8), key };
}

export class CookieSeal {
  /** Newest first: it seals; every one opens. */
  private readonly keys: [SealKey, ...SealKey[]];

  /** @param secrets SESSION_SECRET, newest first (at least one). */
  constructor(
    secrets: readonly string[],
    readonly maxValueBytes = MAX_SEALED_BYTES,
  ) {
    const [newest, ...older] = secrets;
    if (newest === undefined) throw new Error('a sealed cookie needs at least one secret');
    this.keys = [sealKey(newest), ...older.map(sealKey)];
  }

  /** Seals `data` under `sid` until `expiresAt` (epoch ms) with the newest key. */
  async seal(sid: string, sealed: SealedData, expiresAt: number): Promise<string> {
    // What open() would refuse is refused here, loudly, not sealed to log the user out later.
    const checked = payload.safeParse({ sid, s: sealed });
    if (!checked.success)
      throw new Error(
        `a sealed session holds only what open() accepts: ${z.prettifyError(checked.error)}`,
      );
    const { kid, key } = this.keys[0];
    const token = await new EncryptJWT({ sid, s: sealed })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .encrypt(key);
    if (token.length > this.maxValueBytes)
      throw new SessionTooLargeError(token.length, this.maxValueBytes);
    return token;
  }

  /**
   * The session in a cookie value, or undefined for anything that is not one of ours now: too
   * long, not a JWE, a key we no longer (or never) had, changed in transit, expired, or holding
   * something other than a session. Never throws for what a client sent.
   */
  async open(value: string | undefined, now = Date.now()): Promise<Sealed | undefined> {
    if (!value || value.length > this.maxValueBytes) return undefined;
    try {
      const { kid, alg, enc } = decodeProtectedHeader(value);
      const key = this.keys.find((k) => k.kid === kid);
      if (!key || alg !== 'dir' || enc !== 'A256GCM') return undefined;
      const { payload: claims } = await jwtDecrypt(value, key.key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['exp'],
        currentDate: new Date(now),
      });
      const parsed = payload.safeParse(claims);
      // `exp` is there: jose refuses a token without one (requiredClaims).
      if (!parsed.success || claims.exp === undefined) return undefined;
      return { sid: parsed.data.sid, data: parsed.data.s, expiresAt: claims.exp * 1000 };
    } catch {
      return undefined;
    }
  }
}
