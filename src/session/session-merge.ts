/**
 * Saving a session that was loaded from the store writes only what this request changed, onto
 * what the store holds now — not the whole object as it was when the request began. Two tabs
 * that change different things both keep their change (no last-write-wins), and a session that
 * was destroyed meanwhile (logout, revocation, password change) is not brought back by a request
 * that was still in flight.
 */

/** The session as it was loaded, serialized; kept on the Session object, invisible to JSON. */
export const LOADED = Symbol('session as loaded');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One leaf-level change: `value` undefined means "delete this key". */
export interface Change {
  path: string[];
  value?: Json;
}

const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What turns `before` into `after`, as leaf paths (objects are walked, anything else replaced). */
export function diff(
  before: Json | undefined,
  after: Json | undefined,
  path: string[] = [],
): Change[] {
  if (isObject(before) && isObject(after)) {
    const changes: Change[] = [];
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      changes.push(...diff(before[key], after[key], [...path, key]));
    }
    return changes;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [after === undefined ? { path } : { path, value: after }];
}

/** `target` with `changes` applied (a new object). Creates intermediate objects as needed. */
export function apply(target: Record<string, Json>, changes: Change[]): Record<string, Json> {
  return changes.reduce((node, { path, value }) => applyAt(node, path, value), target);
}

function applyAt(
  node: Record<string, Json>,
  [key, ...rest]: readonly string[],
  value: Json | undefined,
): Record<string, Json> {
  if (key === undefined) return node;
  if (rest.length > 0) {
    const child = node[key];
    return { ...node, [key]: applyAt(isObject(child) ? child : {}, rest, value) };
  }
  if (value !== undefined) return { ...node, [key]: value };
  const { [key]: _deleted, ...others } = node;
  return others;
}

/**
 * The changes a save should write, or undefined for a session that was never in the store.
 * `current` is the session as the store would write it now (by default plain JSON): the changes
 * come out in the store's terms, comparing what it wrote (or read) with that.
 */
export function changesOf(sess: object, current?: string): Change[] | undefined {
  const loaded = loadedFormOf(sess);
  if (loaded === undefined) return undefined;
  return diff(JSON.parse(loaded) as Json, JSON.parse(current ?? JSON.stringify(sess)) as Json);
}

export const loadedFormOf = (sess: object): string | undefined =>
  (sess as { [LOADED]?: string })[LOADED];

/** Marks `session` as loaded in the `serialized` form (before the request can change it). */
export function markLoaded(session: object, serialized: string): void {
  Object.defineProperty(session, LOADED, {
    value: serialized,
    enumerable: false,
    configurable: true,
    writable: true,
  });
}
