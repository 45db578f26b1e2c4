// The nginx template as the native runner renders it, for every profile's routing strategy,
// checked by the real `nginx -t` (compose renders the same template; only the upstream addresses
// differ). What each strategy renders is unit-tested in cluster/routing/.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../cluster/process/ports.js';
import { profileNames, profileOf, routingOf } from '../cluster/profiles.js';
import { routingStrategies, type UpstreamServer } from '../cluster/routing/index.js';
import { renderNginxConfig, testNginxConfig } from '../cluster/services/nginx.js';
import { ensureSelfSignedCert } from '../cluster/tls.js';

const tempDirs: string[] = [];

async function prefixDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scaled-login-nginx-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function render(routing: Parameters<typeof renderNginxConfig>[0]['routing']) {
  const prefix = await prefixDir();
  const listen = {
    http: await freePort(),
    https: await freePort(),
    tls: await ensureSelfSignedCert(join(prefix, 'tls')),
  };
  const conf = await renderNginxConfig({ prefix, listen, routing });
  return { prefix, conf, listen, site: await readFile(join(prefix, 'site.conf'), 'utf8') };
}

describe.each(profileNames)('nginx config for profile %s', (name) => {
  it('renders a site that nginx -t accepts, with its routing and our proxy settings', async () => {
    // Nothing needs to listen on these: nginx -t only parses and resolves.
    const servers: UpstreamServer[] = [];
    for (let i = 0; i < 3; i++)
      servers.push({ name: `app-${i + 1}`, host: '127.0.0.1', port: await freePort() });
    const routing = routingOf(profileOf(name)).render(servers);
    const { prefix, conf, listen, site } = await render(routing);

    await expect(testNginxConfig(prefix, conf)).resolves.toBeUndefined();
    // The directives, without the template's comments.
    const lines = site
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter(Boolean);
    // Every placeholder was filled; nginx's own variables were left alone.
    expect(site).not.toContain('${');
    expect(site).toContain(routing.blocks);
    expect(lines).toContain(`proxy_pass http://${routing.target};`);
    expect(lines).toContain('proxy_set_header X-Forwarded-For $remote_addr;');
    expect(lines).toContain('proxy_set_header X-Forwarded-Proto $scheme;');
    expect(lines).toContain('proxy_set_header X-Request-Id $request_id;');
    expect(lines).toContain(`listen 127.0.0.1:${listen.http};`);
    expect(lines).toContain(`listen 127.0.0.1:${listen.https} ssl;`);
    expect(lines).toContain(`ssl_certificate ${listen.tls.cert};`);
    expect(lines).toContain('proxy_next_upstream error timeout;');
  });
});

describe('nginx -t on a broken config', () => {
  it('rejects an upstream server with an invalid port, with nginx’s own message', async () => {
    const routing = routingStrategies['round-robin'].render([
      { name: 'app-1', host: '127.0.0.1', port: 70_000 },
    ]);
    const { prefix, conf } = await render(routing);
    await expect(testNginxConfig(prefix, conf)).rejects.toThrow(/invalid port/);
  });
});
