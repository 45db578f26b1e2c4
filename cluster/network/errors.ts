/** The network mode cannot do what was asked (not root, a bad fault, a tool missing). */
export class NetworkModeError extends Error {}
