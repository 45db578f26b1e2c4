import { z } from 'zod';
import { attemptStateSchema, itemSchema } from '../messages.js';

const sessionId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const replica = z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/);
const version = z.tuple([z.number().int().nonnegative(), z.string().min(1).max(64)]);

/**
 * Where a session's copies are: the primary (serves it, the route cookie pins its client there)
 * and the backup (a full copy; null while no other replica is live). Versioned like a field, so
 * the newest location wins on every replica whatever order the messages arrive in.
 */
export const locationSchema = z.strictObject({
  primary: replica,
  backup: replica.nullable(),
  v: version,
});
export type Location = z.infer<typeof locationSchema>;

const located = z.strictObject({ id: sessionId, loc: locationSchema });
export type Located = z.infer<typeof located>;

const MAX_ITEMS = 1000;

/**
 * What the backup manager sends (LazyReplicatedMap's message types, in our words):
 * - copy: a full copy to the backup, with the location (BACKUP / a new backup after a failover);
 * - delta: the changed fields, to the backup only (a dirty entry's diff);
 * - accessed: last-seen times, batched, to the backup only;
 * - loc: locations for the proxies (PROXY at creation, and after every change of primary/backup);
 * - gone: tombstones, to everyone (REMOVE);
 * - take: a proxy holder asks a holder for the copy and becomes primary (RETRIEVE_BACKUP);
 * - rehome: a leaving holder asks the other holder to find the session a new partner without it
 *   (a graceful leave: two copies stay two);
 * - locations: a page of every location and tombstone, for a replica that joins (no values);
 * - list: a user's sessions held here (for the cluster-wide session list);
 * - attempts: login-attempt counters, as in `replicated`.
 */
export const backupBodySchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('copy'), item: itemSchema, loc: locationSchema }),
  z.strictObject({ t: z.literal('delta'), items: z.array(itemSchema).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('accessed'), items: z.array(itemSchema).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('loc'), entries: z.array(located).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('gone'), items: z.array(itemSchema).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('take'), id: sessionId }),
  z.strictObject({ t: z.literal('rehome'), ids: z.array(sessionId).min(1).max(MAX_ITEMS) }),
  z.strictObject({ t: z.literal('locations'), after: sessionId.nullable() }),
  z.strictObject({ t: z.literal('list'), user: z.string().min(1).max(128) }),
  z.strictObject({ t: z.literal('attempts'), state: attemptStateSchema }),
]);
export type BackupBody = z.infer<typeof backupBodySchema>;

export const takeReplySchema = z.strictObject({ item: itemSchema, loc: locationSchema }).nullable();

export const locationsPageSchema = z.strictObject({
  entries: z.array(located).max(MAX_ITEMS),
  gone: z.array(itemSchema).max(MAX_ITEMS),
  attempts: z.array(attemptStateSchema).max(MAX_ITEMS),
  next: sessionId.nullable(),
});
export type LocationsPage = z.infer<typeof locationsPageSchema>;

export const listReplySchema = z
  .array(z.strictObject({ id: sessionId, json: z.string().max(64 * 1024) }))
  .max(MAX_ITEMS);

export const backupBeaconSchema = z.strictObject({ ready: z.boolean() });

export const PAGE_SIZE = MAX_ITEMS;
