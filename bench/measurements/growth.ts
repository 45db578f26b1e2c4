/**
 * Measurement 7: does a read get slower as the store fills up? whoami p50 with `small` sessions
 * in the store, then with `large`, alternating (timing here is noisy: each size is measured
 * several times and the medians compared). The extra sessions are copies of a real session of the
 * app, written by the store's observer (`fill`), so the store holds what that many logins would
 * leave (the app's per-user index is in Postgres, which a read never touches).
 */
import type { StoreObserver } from '../../cluster/services/index.js';
import { runLoad, summarize } from '../load.js';
import type { GrowthResult } from '../results.js';
import type { Subject } from '../subject.js';
import { median } from './throughput.js';

type FillableStore = Required<Pick<StoreObserver, 'fill' | 'sessionCount'>> & StoreObserver;

/** The store observer that can count and fill sessions; undefined where none can. */
export function fillableStore(s: Subject): FillableStore | undefined {
  return s.stores.find((o): o is FillableStore => !!o.fill && !!o.sessionCount);
}

export async function measureGrowth(
  s: Subject,
  o: { small: number; large: number; rounds: number; warmupMs: number; durationMs: number },
  progress: (line: string) => void,
): Promise<GrowthResult> {
  const store = fillableStore(s);
  if (!store) throw new Error(`${s.name} has no store that can be filled`);

  const present = await store.sessionCount();
  const small = Math.max(o.small, present);
  const removeBase = await store.fill(small - present);
  const p50Small: number[] = [];
  const p50Large: number[] = [];
  const whoamiP50 = async () =>
    summarize(
      await runLoad(s.clients, {
        path: '/api/whoami',
        warmupMs: o.warmupMs,
        durationMs: o.durationMs,
      }),
      s.replicas,
    ).latency.p50;
  const seconds = o.durationMs / 1000;
  try {
    for (let round = 1; round <= o.rounds; round++) {
      progress(
        `round ${round}/${o.rounds}: ${small} sessions in ${store.label}, whoami load ${seconds} s …`,
      );
      p50Small.push(await whoamiP50());
      const removeExtra = await store.fill(o.large - small);
      try {
        progress(
          `round ${round}/${o.rounds}: ${await store.sessionCount()} sessions in ${store.label}, whoami load ${seconds} s …`,
        );
        p50Large.push(await whoamiP50());
      } finally {
        await removeExtra();
      }
    }
  } finally {
    await removeBase();
  }
  return {
    store: store.label,
    small,
    large: o.large,
    p50Small,
    p50Large,
    ratio: median(p50Large) / median(p50Small),
  };
}
