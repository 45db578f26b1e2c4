/** What happened to the cluster, and how many simulated clients each event logged out. */
export interface TimelineEvent {
  id: number;
  at: number;
  member: string;
  /** e.g. "killed (SIGKILL)", "down", "up again (pid 1234)". */
  what: string;
  /** Simulated clients that found themselves logged out after it (and before the next). */
  loggedOut: number;
}

/** A logout this long after the last event is not blamed on it. */
const BLAME_WINDOW_MS = 30_000;
const KEEP = 50;

export class Timeline {
  private readonly events: TimelineEvent[] = [];
  private nextId = 1;
  /** Logouts with no event shortly before them (idle timeout, a revocation, ...). */
  unexplained = 0;

  add(member: string, what: string, at = Date.now()): TimelineEvent {
    const event = { id: this.nextId++, at, member, what, loggedOut: 0 };
    this.events.push(event);
    if (this.events.length > KEEP) this.events.shift();
    return event;
  }

  /** A simulated client was logged out now: the latest event that may have caused it gets it. */
  loggedOut(at = Date.now()): void {
    const last = this.events.at(-1);
    if (last && at - last.at <= BLAME_WINDOW_MS) last.loggedOut++;
    else this.unexplained++;
  }

  list(): TimelineEvent[] {
    return [...this.events];
  }
}
