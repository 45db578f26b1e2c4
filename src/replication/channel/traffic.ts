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

  sent(kind: Envelope['kind'], bytes: number): void {
    this.framesSent[kind]++;
    this.bytesSent[kind] += bytes;
  }

  received(kind: Envelope['kind'], bytes: number): void {
    this.framesReceived[kind]++;
    this.bytesReceived += bytes;
  }
}
