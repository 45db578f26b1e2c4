import { createHash } from 'node:crypto';

/**
 * The backup of a session: rendezvous (highest random weight) hashing of the session id over the
 * candidates. Every candidate is equally likely for a given primary, so backups spread evenly;
 * a member leaving moves only the sessions it backed up; and the choice needs no coordination.
 * (Tomcat picks round-robin over the members; a hash spreads as evenly and is reproducible.)
 */
export function chooseBackup(id: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = -1;
  for (const c of candidates) {
    const score = createHash('sha256').update(`${id}|${c}`).digest().readUIntBE(0, 6);
    if (score > bestScore || (score === bestScore && best !== null && c < best)) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}
