import type { PeerLink } from './peer-link.js';

/**
 * A live peer that says (in its heartbeat beacon) it is ready, to copy state from. None while
 * every peer is live but starting (the whole cluster starts: nobody holds sessions yet), or
 * after `discoveryMs` without one. Shared by the replicated map and the backup manager.
 */
export async function findReadyPeer(
  link: PeerLink,
  beacon: (peer: string) => { ready: boolean } | undefined,
  tried: ReadonlySet<string>,
  o: { discoveryMs: number; now: () => number; sleep: (ms: number) => Promise<void> },
): Promise<string | undefined> {
  const deadline = o.now() + o.discoveryMs;
  for (;;) {
    const live = link.livePeers().filter((p) => !tried.has(p));
    const donor = live.find((p) => beacon(p)?.ready);
    if (donor) return donor;
    const allStarting =
      tried.size === 0 && link.peers.every((p) => live.includes(p) && beacon(p) !== undefined);
    if (allStarting || o.now() >= deadline) return undefined;
    await o.sleep(50);
  }
}
