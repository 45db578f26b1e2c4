import { describe, expect, it } from '@jest/globals';
import { routingStrategies } from '../routing/index.js';
import { envsubst, nginxTemplateVars } from './nginx.js';

describe('envsubst', () => {
  it('replaces only the variables it is given, like the nginx image does', () => {
    const out = envsubst('listen ${NGINX_PORT}; set $x $remote_addr; ${UNSET}', {
      NGINX_PORT: '8080',
    });
    expect(out).toBe('listen 8080; set $x $remote_addr; ${UNSET}');
  });
});

describe('nginxTemplateVars', () => {
  it("fills the listeners and the routing strategy's blocks and target", () => {
    const routing = routingStrategies['ip-hash'].render([
      { name: 'app-1', host: 'app-1', port: 3000 },
    ]);
    const vars = nginxTemplateVars(
      { http: 8080, https: 8443, tls: { cert: '/tls/cert.pem', key: '/tls/key.pem' } },
      routing,
    );
    expect(vars).toEqual({
      NGINX_PORT: '8080',
      NGINX_TLS_PORT: '8443',
      NGINX_TLS_CERT: '/tls/cert.pem',
      NGINX_TLS_KEY: '/tls/key.pem',
      NGINX_UPSTREAMS: routing.blocks,
      NGINX_UPSTREAM: 'app',
    });
  });
});
