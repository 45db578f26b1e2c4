import { z } from 'zod';

/** Public session ids only (see publicSessionId): the raw id never leaves the cookie. */
const sessionId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const version = z.tuple([z.number().int().nonnegative(), z.string().min(1).max(64)]);
/** A top-level session field: its value as JSON text, and the version that wrote it. */
const field = z.tuple([z.string().max(64 * 1024), version]);

/**
 * What replicas tell each other about one session. A live session: its changed (or, when
 * created, all) top-level fields and when it expires. An ended one: a tombstone, kept until
 * `until`, so that no late message brings it back.
 */
export const itemSchema = z.union([
  z.strictObject({
    id: sessionId,
    created: version.optional(),
    fields: z.record(z.string().max(64), field),
    expiresAt: z.number().int().nonnegative(),
  }),
  z.strictObject({ id: sessionId, gone: version, until: z.number().int().nonnegative() }),
]);
export type Item = z.infer<typeof itemSchema>;

const slot = z.strictObject({
  count: z.number().int().nonnegative(),
  until: z.number().int().nonnegative(),
  version,
});
export const attemptStateSchema = z.strictObject({
  key: z.string().max(512),
  reset: version.optional(),
  slots: z.record(z.string().max(64), slot),
});
export type AttemptState = z.infer<typeof attemptStateSchema>;

const MAX_ITEMS = 1000;

/**
 * Every body the replicated session map sends, as DeltaManager names them: SESSION_CREATED,
 * SESSION_DELTA (changed fields only), SESSION_EXPIRED (here: destroyed), SESSION_ACCESSED
 * (a batch of last-seen times, not one per read), GET_ALL_SESSIONS (a page of the state, for a
 * starting replica and for anti-entropy), and the login-attempt counters.
 */
export const bodySchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('created'), items: z.array(itemSchema).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('delta'), items: z.array(itemSchema).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('destroyed'), items: z.array(itemSchema).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('accessed'), items: z.array(itemSchema).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('attempts'), state: attemptStateSchema }),
  z.strictObject({
    t: z.literal('get-all'),
    transfer: z.string().max(64),
    page: z.number().int().nonnegative(),
  }),
]);
export type Body = z.infer<typeof bodySchema>;

export const pageSchema = z.strictObject({
  items: z.array(itemSchema).max(MAX_ITEMS),
  attempts: z.array(attemptStateSchema).max(MAX_ITEMS),
  more: z.boolean(),
});
export type Page = z.infer<typeof pageSchema>;

export const beaconSchema = z.strictObject({ ready: z.boolean(), digest: z.string().max(64) });
export type Beacon = z.infer<typeof beaconSchema>;
