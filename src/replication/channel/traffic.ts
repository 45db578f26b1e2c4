import type { Envelope } from './envelope.js';

type Counts = Record<Envelope['kind'], number>;
const zero = (): Counts => ({ msg: 0, req: 0, res: 0, beat: 0 });

/** Frames and bytes over the peer channel, by kind: what the benchmark's T9 counts. */
export class PeerTraffic {
  readonly framesSent = zero();
  readonly framesReceived = zero();
  /** Bytes sent by frame kind: heartbeats apart from the messages and requests that carry data. */
  readonly bytesSent = zero();
  bytesReceived = 0;
  /**
   * CPU microseconds this replica spent in the channel's own code, by frame kind: sealing and
   * sending a frame, and opening, checking and handling one that came in (the synchronous part).
   * CPU time, not elapsed time: on shared cores a section is often preempted, and the wait would
   * count as work. What replication costs a replica, apart from everything else on its cores.
   */
  readonly workMicros = zero();

  sent(kind: Envelope['kind'], bytes: number): void {
    this.framesSent[kind]++;
    this.bytesSent[kind] += bytes;
  }

  received(kind: Envelope['kind'], bytes: number): void {
    this.framesReceived[kind]++;
    this.bytesReceived += bytes;
  }

  /** Where a piece of work starts: the process's CPU time so far. */
  static clock(): NodeJS.CpuUsage {
    return process.cpuUsage();
  }

  /** Adds the CPU time since `start` (from clock()) to the work on frames of `kind`. */
  worked(kind: Envelope['kind'], start: NodeJS.CpuUsage): void {
    const used = process.cpuUsage(start);
    this.workMicros[kind] += used.user + used.system;
  }

  /** The counters the replication backends report in their stats. */
  snapshot() {
    return { framesSent: this.framesSent, bytesSent: this.bytesSent, workMicros: this.workMicros };
  }
}
