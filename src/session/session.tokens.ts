/** Injection token for the active SessionBackend (store, registry, attempt counter). */
export const SESSION_BACKEND = Symbol('SESSION_BACKEND');
/** Injection token for the active backend's record (its name, scope, outage classification). */
export const SESSION_BACKEND_RECORD = Symbol('SESSION_BACKEND_RECORD');
