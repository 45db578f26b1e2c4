import { z } from 'zod';

export interface PeerAddress {
  name: string;
  host: string;
  port: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * REPLICATION_PEERS: the static peer list, `app-2=127.0.0.1:4101,app-3=app-3:4000`. Every replica
 * lists every other; adding one means changing this on all of them (the price of a static list).
 */
export const peerList = z.string().transform((v, ctx): PeerAddress[] => {
  const peers: PeerAddress[] = [];
  for (const item of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [, name, host, portText] = /^([^=]+)=([^:]+):(\d{1,5})$/.exec(item) ?? [];
    const port = Number(portText);
    if (!name || !host || !NAME.test(name) || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not name=host:port` });
      return z.NEVER;
    }
    peers.push({ name, host, port });
  }
  return peers;
});

export const formatPeerList = (peers: PeerAddress[]): string =>
  peers.map((p) => `${p.name}=${p.host}:${p.port}`).join(',');
