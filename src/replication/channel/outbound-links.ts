import { randomBytes } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import { defined } from '../../common/defined.js';
import { FrameSigner } from './envelope.js';
import {
  CHALLENGE_HEADER,
  FrameCheck,
  NAME_HEADER,
  PROOF_HEADER,
  verified,
  type InboundFrame,
} from './inbound-port.js';
import { addressKey, type MemberAddress } from './membership.js';
import type { WorkMeter } from './thread-cpu.js';

export interface OutboundOptions {
  self: string;
  secret: string;
  maxFrameBytes: number;
  /** The static peer list's names (only they are accepted), or null: any holder of the secret. */
  peers: string[] | null;
}

export interface OutboundEvents {
  /** The connection to `peer` (at `address`) is open and proved: frames to it go out from now. */
  open(peer: string, address: string): void;
  /** It closed (or never opened): frames to `peer` are dropped until it opens again. */
  closed(peer: string): void;
  /** The address is this replica's own (a DNS name lists every member, us too): not a peer. */
  ownAddress(address: string): void;
  /** A verified frame that came back on it (a reply to one of our requests). */
  frame(f: InboundFrame): void;
  log(message: string, detail: Record<string, unknown>): void;
}

/** Reconnecting: doubling from 100 ms, at most a second; a refused peer is retried slowly. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 1000;
const REFUSED_RETRY_MS = 5000;

interface Link {
  address: MemberAddress;
  socket?: WebSocket;
  /** Who proved to be there; undefined until the handshake is done. */
  name?: string;
  retryMs: number;
  timer?: NodeJS.Timeout;
  /** The address is this replica's own (DNS lists every member, us included): not dialled again. */
  self?: boolean;
}

/**
 * This replica's own connection to each member address, kept open: reconnecting with a backoff
 * of up to 1 s, so a restarted peer is found again within a second. The member list changes at
 * run time (membership.ts): a new address is dialled at once, a removed one closed and forgotten.
 * Each connection starts with a challenge the other end must answer with its name and an HMAC
 * proof of the cluster secret; until it has, nothing is sent there (a stranger that appears in DNS
 * learns nothing). This replica's messages, requests and heartbeats go out on it; what comes back
 * (replies) passes the same checks as everything from a peer. It runs beside the peer port (see
 * peer-io.ts).
 */
export class OutboundLinks {
  private readonly links = new Map<string, Link>();
  /** Proved peers: name → its link's address key. */
  private readonly byName = new Map<string, string>();
  private readonly check: FrameCheck;
  private readonly signer: FrameSigner;
  private closed = false;

  constructor(
    private readonly o: OutboundOptions,
    private readonly events: OutboundEvents,
    private readonly meter?: WorkMeter,
  ) {
    this.check = new FrameCheck(
      { self: o.self, secret: o.secret, peers: o.peers },
      (message, detail) => {
        events.log(message, detail);
      },
    );
    this.signer = new FrameSigner(o.secret);
  }

  /** The members to be connected to, from now on: new ones dialled, removed ones closed. */
  setMembers(members: MemberAddress[]): void {
    if (this.closed) return;
    const next = new Map(members.map((m) => [addressKey(m), m]));
    for (const [key, link] of this.links) {
      if (next.has(key)) continue;
      this.links.delete(key);
      clearTimeout(link.timer);
      link.socket?.terminate(); // its 'close' reports the peer gone
    }
    for (const [key, address] of next) {
      const link = this.links.get(key);
      if (link) link.address = address;
      else {
        this.links.set(key, { address, retryMs: FIRST_RETRY_MS });
        this.connect(key);
      }
    }
  }

  /** A sealed frame to `peer`; dropped when its connection is not open and proved. */
  send(peer: string, frame: string): void {
    const key = this.byName.get(peer);
    const socket = key === undefined ? undefined : this.links.get(key)?.socket;
    if (socket?.readyState === WebSocket.OPEN) socket.send(frame);
  }

  /** Drops the connection (a peer silent too long); it reconnects as after any close. */
  drop(peer: string): void {
    const key = this.byName.get(peer);
    if (key !== undefined) this.links.get(key)?.socket?.terminate();
  }

  close(): void {
    this.closed = true;
    for (const link of this.links.values()) {
      clearTimeout(link.timer);
      link.socket?.terminate();
    }
  }

  private connect(key: string): void {
    const link = this.links.get(key);
    if (this.closed || !link || link.self) return;
    const { host, port } = link.address;
    const challenge = randomBytes(24).toString('base64url');
    let answer: { name?: string; proof?: string } = {};
    const socket = new WebSocket(`ws://${host.includes(':') ? `[${host}]` : host}:${port}/`, {
      perMessageDeflate: false,
      maxPayload: this.o.maxFrameBytes,
      handshakeTimeout: 2000,
      headers: { [CHALLENGE_HEADER]: challenge },
    });
    link.socket = socket;
    socket.on('upgrade', (res) => {
      const header = (h: string) => {
        const v = res.headers[h];
        return typeof v === 'string' ? v : undefined;
      };
      answer = { name: header(NAME_HEADER), proof: header(PROOF_HEADER) };
    });
    socket.on('open', () => {
      const refusal = this.refusal(link, challenge, answer);
      if (refusal) {
        this.check.refused(key, refusal);
        link.retryMs = REFUSED_RETRY_MS;
        socket.terminate();
        return;
      }
      const name = defined(answer.name, 'the name the peer proved (refusal() checked it)');
      if (name === this.o.self) {
        link.self = true; // our own address: nothing to connect to
        socket.terminate();
        this.events.ownAddress(key);
        return;
      }
      link.name = name;
      link.retryMs = FIRST_RETRY_MS;
      this.byName.set(name, key);
      this.events.open(name, key);
    });
    socket.on('message', (data, isBinary) => {
      if (link.name) this.receive(data, isBinary, socket, link.name);
    });
    socket.on('error', () => undefined); // 'close' follows, and reconnects
    socket.on('close', () => {
      if (link.socket !== socket) return;
      link.socket = undefined;
      const name = link.name;
      link.name = undefined;
      if (name !== undefined && this.byName.get(name) === key) {
        this.byName.delete(name);
        this.events.closed(name);
      }
      if (this.closed || link.self || this.links.get(key) !== link) return;
      const wait = link.retryMs;
      link.retryMs = Math.min(Math.max(wait * 2, FIRST_RETRY_MS), MAX_RETRY_MS);
      link.timer = setTimeout(() => {
        this.connect(key);
      }, wait);
      link.timer.unref();
    });
  }

  /** Why the other end is not taken as a peer, or undefined when it proved who it is. */
  private refusal(
    link: Link,
    challenge: string,
    answer: { name?: string; proof?: string },
  ): string | undefined {
    const { name, proof } = answer;
    if (!name || !proof || !this.signer.checkProof(challenge, name, proof)) {
      return 'no proof of the cluster secret in the handshake';
    }
    if (name !== this.o.self && this.o.peers && !this.o.peers.includes(name)) {
      return `"${name}" is not in the peer list`;
    }
    if (link.address.name !== undefined && name !== link.address.name && name !== this.o.self) {
      return `expected "${link.address.name}", found "${name}"`;
    }
    const other = this.byName.get(name);
    if (other !== undefined && other !== addressKey(link.address)) {
      return `"${name}" is already connected at ${other}`;
    }
    return undefined;
  }

  private receive(data: RawData, isBinary: boolean, socket: WebSocket, peer: string): void {
    this.meter?.begin();
    const passed = this.check.pass(data, isBinary, socket, peer);
    if (!passed) return;
    this.meter?.is(passed.envelope.kind);
    this.events.frame(verified(passed.envelope, passed.text));
  }
}
