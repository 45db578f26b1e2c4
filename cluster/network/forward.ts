/**
 * Ports of a namespace network's members, reachable from the root namespace's loopback: the
 * runner's probes, observers and clients talk to 127.0.0.1:<port> as they do natively, and a
 * forward carries each connection into the member's namespace (a Unix socket to ns-agent.mjs
 * there, which connects to 127.0.0.1:<port> inside). The root namespace gets no route to the
 * network itself.
 *
 * A forward with `proxyProtocol` starts each connection with a PROXY protocol v1 line naming the
 * client's own address, so nginx inside sees who connected (ip_hash, the login limit per address)
 * rather than the forward.
 */
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { NetworkModeError } from './errors.js';
import { NamespaceProcess } from './ns-process.js';

const AGENT = join(PROJECT_ROOT, 'cluster', 'network', 'ns-agent.mjs');

/** The inside end in one namespace: one agent serves every port forwarded into it. */
export class NamespaceAgent {
  private constructor(
    readonly socket: string,
    private readonly program: NamespaceProcess,
  ) {}

  static async start(namespace: string, socket: string): Promise<NamespaceAgent> {
    const agent = await NamespaceProcess.start(
      namespace,
      [process.execPath, AGENT, socket],
      'the agent',
    );
    return new NamespaceAgent(socket, agent);
  }

  /** Whether something listens on `port` inside (a forward accepts before it knows). */
  async listens(port: number): Promise<boolean> {
    const socket = net.connect({ path: this.socket });
    socket.end(`?${port}\n`);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.setTimeout(2000, () => socket.destroy());
    await once(socket, 'close').catch(() => undefined);
    return answer === 'open\n';
  }

  stop(): Promise<void> {
    return this.program.stop();
  }
}

/** 127.0.0.1:`listen` in the root namespace, carried to 127.0.0.1:`port` in the agent's namespace. */
export class PortForward {
  private constructor(
    private readonly server: net.Server,
    private readonly open: Set<net.Socket>,
  ) {}

  static async open(
    agent: NamespaceAgent,
    o: { listen: number; port: number; proxyProtocol?: boolean },
  ): Promise<PortForward> {
    const open = new Set<net.Socket>();
    // Half-open allowed: a client that has sent all it will send still gets the answer.
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      const inside = net.connect({ path: agent.socket, allowHalfOpen: true });
      open.add(client);
      const header = o.proxyProtocol ? proxyLine(client) : '';
      inside.write(`${o.port}\n${header}`);
      client.pipe(inside).pipe(client);
      client.on('error', () => inside.destroy());
      inside.on('error', () => client.destroy());
      // The client gone, nothing more can reach it; the inside gone, the client gets what is on
      // its way (end, not destroy).
      client.on('close', () => {
        open.delete(client);
        inside.destroy();
      });
      inside.on('close', () => client.end());
    });
    server.listen(o.listen, '127.0.0.1');
    await once(server, 'listening');
    return new PortForward(server, open);
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string')
      throw new NetworkModeError('a port forward that is not listening');
    return address.port;
  }

  async close(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    for (const socket of this.open) socket.destroy();
    await closed;
  }
}

/** PROXY protocol v1: who connected, and to where. */
function proxyLine(client: net.Socket): string {
  const family = client.remoteFamily === 'IPv6' ? 'TCP6' : 'TCP4';
  const { remoteAddress = '', remotePort = 0, localAddress = '', localPort = 0 } = client;
  return `PROXY ${family} ${remoteAddress} ${localAddress} ${remotePort} ${localPort}\r\n`;
}
