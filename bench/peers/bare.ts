/**
 * Peer "bare": node:http answering a whoami-like JSON body, with no framework, no session and no
 * store behind it. Run behind the same nginx under the same load, it is the ceiling this machine
 * sets for any app (nginx + Node's HTTP stack + the load generator).
 */
import { createServer } from 'node:http';

const replica = process.env.REPLICA_NAME ?? 'bare';
const body = JSON.stringify({
  authenticated: true,
  user: { id: '00000000-0000-4000-8000-000000000000', username: 'bare', displayName: 'Bare' },
  servedBy: replica,
  store: 'none',
  profile: 'bare',
});

const server = createServer((req, res) => {
  res.setHeader('X-Served-By', replica);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  if (req.url?.startsWith('/health/')) return void res.end('{"status":"ok"}');
  res.end(body);
});
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => server.close());
