/** Injection token for the active SessionBackend (store, registry, attempt counter). */
export const SESSION_BACKEND = Symbol('SESSION_BACKEND');
