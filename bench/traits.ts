/**
 * What the benchmark knows of a row: its traits, read from the profile table (how nginx routes,
 * where sessions live and on which servers, how many copies, whether replicas talk to each other,
 * what the row promises), and what its store offers once it runs. Measurements, faults and the
 * report decide from these alone, never from a profile's name: a new row is measured and
 * reported by what it is.
 */
import {
  backendOf,
  guaranteesOf,
  profileOf,
  type Guarantees,
  type NetworkPromises,
  type Profile,
  type ProfileName,
} from '../cluster/profiles.js';
import type { RoutingName } from '../cluster/routing/index.js';
import { profileNames } from '../cluster/profiles.js';

export interface Traits {
  /** How nginx picks a replica. */
  routing: RoutingName;
  /** The session backend: the kind of store. */
  sessions: string;
  /** The servers (service plugins) the store runs on; none where sessions live in the replicas. */
  storeServices: string[];
  /** Sessions are sealed into their cookies: neither the replicas nor the store servers hold them. */
  inCookie: boolean;
  /** How many replicas hold a session, where replicas replicate between them. */
  copies?: 'every-replica' | 'primary-backup';
  /** Replicas talk to each other. */
  peerChannel: boolean;
  guarantees: Guarantees;
  /** What it promises once a network fault heals, where it declares it (the network mode). */
  networkPromises?: NetworkPromises;
}

export function traitsOf(profile: Profile): Traits {
  const backend = backendOf(profile);
  return {
    routing: profile.routing,
    sessions: profile.sessions,
    storeServices: [...backend.services],
    inCookie: backend.inCookie === true,
    ...(backend.copies ? { copies: backend.copies } : {}),
    peerChannel: backend.peerChannel === true,
    guarantees: guaranteesOf(profile),
    ...(profile.networkFaults ? { networkPromises: profile.networkFaults } : {}),
  };
}

/** What a running row's store offers the benchmark (from its observers and its plugin). */
export interface StoreOffers {
  /** The store can be filled with copies of a session (its label), for the growth run. */
  fillable?: string;
  /** Stored sessions can be sampled. */
  samples: boolean;
  /** The store fails over: its primary can be killed and another member takes over. */
  failsOver: boolean;
}

/** A topology as planning sees it. */
export interface Row {
  name: string;
  kind: 'profile' | 'peer';
  traits: Traits;
  store: StoreOffers;
}

/** A client keeps reaching its session: shared by all replicas, or routed to the same one. */
export const keepsSession = (t: Traits): boolean =>
  t.guarantees.sharedAcrossReplicas || t.routing !== 'round-robin';

/** The first row of the table with these traits (a peer borrows its topology). */
export function profileWhere(matches: (t: Traits) => boolean, what: string): ProfileName {
  const name = profileNames.find((p) => matches(traitsOf(profileOf(p))));
  if (!name) throw new Error(`no profile of the table is ${what}`);
  return name;
}
