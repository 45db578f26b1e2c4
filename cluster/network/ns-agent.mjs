// The inside end of a port forward into a network namespace (cluster/network/forward.ts): runs
// in the member's namespace (ip netns exec … node ns-agent.mjs <socket>), listens on a Unix socket
// (files cross namespaces, addresses do not), and joins each connection, whose first line names a
// port, to 127.0.0.1:<port> in its namespace. A first line `?<port>` asks instead whether
// something listens there: the answer is `open` or `closed`. It ends when its stdin closes: a
// runner killed with SIGKILL leaves none behind.
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { rmSync } from 'node:fs';
import net from 'node:net';
import process from 'node:process';

const [socketPath] = process.argv.slice(2);
if (!socketPath) {
  console.error('usage: ns-agent.mjs <socket>');
  process.exit(2);
}
rmSync(socketPath, { force: true });

const server = net.createServer({ allowHalfOpen: true }, (client) => {
  client.on('error', () => client.destroy());
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(10);
    if (end < 0) {
      if (head.length > 16) client.destroy(); // not a port line
      return;
    }
    client.off('data', onData);
    client.pause();
    const line = head.subarray(0, end).toString();
    const asking = line.startsWith('?');
    const port = Number(asking ? line.slice(1) : line);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return void client.destroy();
    if (asking) {
      const probe = net.connect({ host: '127.0.0.1', port });
      // The answer, then the socket closed whatever the asker does (it is paused).
      const answer = (text) => client.end(text, () => client.destroy());
      probe.on('connect', () => {
        probe.destroy();
        answer('open\n');
      });
      probe.on('error', () => answer('closed\n'));
      return;
    }
    const rest = head.subarray(end + 1);
    const target = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => {
      if (rest.length > 0) target.write(rest);
      client.pipe(target).pipe(client);
      client.resume();
    });
    target.on('error', () => client.destroy());
    target.on('close', () => client.end());
    client.on('close', () => target.destroy());
  };
  client.on('data', onData);
});
server.listen(socketPath, () => console.log('ready'));
process.stdin.on('end', () => {
  server.close();
  rmSync(socketPath, { force: true });
  process.exit(0);
});
process.stdin.resume();
