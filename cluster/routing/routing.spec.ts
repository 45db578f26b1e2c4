import { describe, expect, it } from '@jest/globals';
import { routingStrategies } from './index.js';

const servers = [
  { name: 'app-1', host: '127.0.0.1', port: 3001 },
  { name: 'app-2', host: '127.0.0.1', port: 3002 },
];
const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

describe('routing strategies', () => {
  it('round-robin: one upstream, no balancing directive (nginx default), our shared settings', () => {
    const { blocks, target } = routingStrategies['round-robin'].render(servers);
    expect(target).toBe('app');
    expect(lines(blocks)).toEqual([
      'upstream app {',
      'zone app 64k;',
      'server 127.0.0.1:3001 max_fails=1 fail_timeout=2s;',
      'server 127.0.0.1:3002 max_fails=1 fail_timeout=2s;',
      'keepalive 256;',
      'keepalive_timeout 4s;',
      '}',
    ]);
  });

  it('ip-hash: the same upstream with ip_hash before the servers', () => {
    const { blocks, target } = routingStrategies['ip-hash'].render(servers);
    expect(target).toBe('app');
    expect(lines(blocks).slice(0, 3)).toEqual(['upstream app {', 'zone app 64k;', 'ip_hash;']);
    expect(lines(blocks).filter((l) => l.startsWith('server '))).toHaveLength(2);
  });

  it('route-cookie: round-robin for the unpinned, one upstream per replica with the others as backup', () => {
    const { blocks, target } = routingStrategies['route-cookie'].render(servers);
    expect(target).toBe('$route_upstream');
    const l = lines(blocks);
    const block = (name: string) =>
      l.slice(l.indexOf(`upstream ${name} {`), l.indexOf('}', l.indexOf(`upstream ${name} {`)) + 1);
    expect(block('app').filter((x) => x.startsWith('server '))).toEqual([
      'server 127.0.0.1:3001 max_fails=1 fail_timeout=2s;',
      'server 127.0.0.1:3002 max_fails=1 fail_timeout=2s;',
    ]);
    expect(block('pin_app_1').filter((x) => x.startsWith('server '))).toEqual([
      'server 127.0.0.1:3001 max_fails=1 fail_timeout=2s;',
      'server 127.0.0.1:3002 max_fails=1 fail_timeout=2s backup;',
    ]);
    expect(block('pin_app_2').filter((x) => x.startsWith('server '))).toEqual([
      'server 127.0.0.1:3002 max_fails=1 fail_timeout=2s;',
      'server 127.0.0.1:3001 max_fails=1 fail_timeout=2s backup;',
    ]);
    // Only exact replica names select a replica; everything else is round-robin.
    const map = l.slice(l.indexOf('map $cookie_route $route_upstream {'));
    expect(map).toEqual([
      'map $cookie_route $route_upstream {',
      'default app;',
      '"app-1" pin_app_1;',
      '"app-2" pin_app_2;',
      '}',
    ]);
    expect(routingStrategies['route-cookie'].replicaEnv).toEqual({ ROUTE_COOKIE: 'route' });
  });
});
