// Runs inside a network namespace (ip netns exec … node net-probe.mjs …) for test/network.e2e-spec.ts.
//   listen <host> <port>            TCP: accepts and closes; UDP: prints the count of datagrams on SIGTERM
//   connect <host> <port> <ms>      prints "ok" or the error code (or "timeout")
//   send <host> <port> <count>      UDP datagrams, 1 ms apart
//   fastest <host> <port> <count>   the shortest of <count> TCP connects, in ms
//   echo <host> <port>              TCP: answers each connection's first chunk with itself
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [mode, host, portText, extra] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'listen') {
  let received = 0;
  const udp = dgram.createSocket('udp4');
  udp.on('message', () => received++);
  udp.bind(port, host);
  const tcp = net
    .createServer((s) => s.on('error', () => undefined).end())
    .listen(port, host, () => console.log('listening'));
  process.on('SIGTERM', () => {
    console.log(String(received));
    udp.close();
    tcp.close();
  });
} else if (mode === 'connect') {
  const socket = net.connect({ host, port });
  const timer = setTimeout(() => done('timeout'), Number(extra));
  const done = (what) => {
    clearTimeout(timer);
    console.log(what);
    socket.destroy();
  };
  socket.on('connect', () => done('ok'));
  socket.on('error', (err) => done(err.code ?? err.message));
} else if (mode === 'send') {
  const udp = dgram.createSocket('udp4');
  let sent = 0;
  const next = () => {
    if (sent === Number(extra)) return udp.close();
    sent++;
    udp.send('x', port, host, () => setTimeout(next, 1));
  };
  next();
} else if (mode === 'echo') {
  net
    .createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', (chunk) => s.end(chunk));
    })
    .listen(port, host, () => console.log('listening'));
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'fastest') {
  let best = Infinity;
  for (let i = 0; i < Number(extra); i++) {
    const t0 = performance.now();
    await new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
    best = Math.min(best, performance.now() - t0);
  }
  console.log(best.toFixed(3));
} else {
  console.error(`net-probe: unknown mode ${mode}`);
  process.exit(2);
}
