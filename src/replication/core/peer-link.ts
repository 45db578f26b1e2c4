/**
 * What replication logic needs from the network between replicas, and nothing more. The real
 * one is PeerChannel (WebSocket, authenticated); the model test gives the same logic an
 * in-memory network that delays, reorders and drops. Bodies are plain JSON values: each user
 * (the replicated session map, later the backup manager) validates its own.
 */
export interface PeerHandlers {
  /**
   * A message or request from a peer; for a request, the resolved value is the reply.
   * `receivedAt` (wall time in ms with a fraction, the clock the core gets as `clockNow`, where the
   * transport knows it): when the frame became visible
   * to this replica — checked, and queued for its next read (see drain) — what came after it is
   * the handling.
   */
  message(from: string, body: unknown, receivedAt?: number): unknown;
  /** A peer is reachable (again). */
  peerUp?(peer: string): void;
  /** A peer stopped answering or closed its connection: it is not waited for any more. */
  peerDown?(peer: string): void;
  /** What a peer announces with each heartbeat (see setBeacon). */
  beacon?(peer: string, beacon: unknown): void;
}

export interface PeerLink {
  readonly self: string;
  /** Every configured peer, live or not (the static peer list). */
  readonly peers: readonly string[];
  /** Peers heard from within the failure-detection window. */
  livePeers(): string[];
  /**
   * Fire and forget, to one peer or to several at once (handed to the network together); dropped
   * for a peer that is not connected.
   */
  send(to: string | readonly string[], body: unknown): void;
  /** Resolves with the peer's reply; rejects on timeout or when the peer goes down. */
  request(to: string, body: unknown, timeoutMs: number): Promise<unknown>;
  listen(handlers: PeerHandlers): void;
  /** What every heartbeat carries (e.g. "ready", a digest of the local state). */
  setBeacon(beacon: () => unknown): void;
  /**
   * Hands every message that has arrived but waits for this thread to the handlers, now (the
   * real channel receives on a thread of its own). Called before every read or change of the
   * replicated state, so nothing a peer already sent is missed; absent where delivery is direct.
   */
  drain?(): void;
}
