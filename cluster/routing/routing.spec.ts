import { describe, expect, it } from '@jest/globals';
import { routingStrategies } from './index.js';

const servers = [
  { host: '127.0.0.1', port: 3001 },
  { host: '127.0.0.1', port: 3002 },
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
});
