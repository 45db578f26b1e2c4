import { describe, expect, it } from '@jest/globals';
import { sessionBackends } from '../src/session/backends/index.js';
import { envsubst, nginxTemplateVars } from './nginx.js';
import {
  isProfileName,
  profileNames,
  profiles,
  replicaNames,
  upstreamDirective,
} from './profiles.js';

describe('profile table', () => {
  it.each(profileNames)('%s names a session backend the app has', (name) => {
    expect(Object.keys(sessionBackends)).toContain(profiles[name].store);
  });

  it('needs redis exactly where the store is redis', () => {
    for (const name of profileNames) {
      expect((profiles[name].services as readonly string[]).includes('redis')).toBe(
        profiles[name].store === 'redis',
      );
    }
  });

  it('maps policies to nginx directives', () => {
    expect(upstreamDirective('round-robin')).toBe('');
    expect(upstreamDirective('ip-hash')).toBe('ip_hash;');
  });

  it('names replicas app-1..N and recognises profile names', () => {
    expect(replicaNames(3)).toEqual(['app-1', 'app-2', 'app-3']);
    expect(isProfileName('sticky')).toBe(true);
    expect(isProfileName('constructor')).toBe(false); // not fooled by Object.prototype
  });
});

describe('envsubst', () => {
  it('replaces only the variables it is given, like the nginx image does', () => {
    const out = envsubst('listen ${NGINX_PORT}; set $x $remote_addr; ${UNSET}', {
      NGINX_PORT: '8080',
    });
    expect(out).toBe('listen 8080; set $x $remote_addr; ${UNSET}');
  });

  it('renders one server line per replica', () => {
    const vars = nginxTemplateVars({
      listen: 8080,
      tls: { listen: 8443, cert: '/tls/cert.pem', key: '/tls/key.pem' },
      policy: 'ip-hash',
      servers: [
        { host: 'app-1', port: 3000 },
        { host: 'app-2', port: 3000 },
      ],
    });
    expect(vars.NGINX_UPSTREAM_SERVERS.split('\n')).toHaveLength(2);
    expect(vars.NGINX_UPSTREAM_POLICY).toBe('ip_hash;');
  });
});
