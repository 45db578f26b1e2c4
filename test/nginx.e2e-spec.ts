// The nginx template as the native runner renders it, checked by the real `nginx -t` for every
// profile (compose renders the same template; only the upstream addresses differ).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../cluster/ports.js';
import { renderNginxConfig, testNginxConfig, type UpstreamServer } from '../cluster/nginx.js';
import { profileNames, profiles } from '../cluster/profiles.js';
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

describe.each(profileNames)('nginx config for profile %s', (name) => {
  const profile = profiles[name];

  it('renders a site that nginx -t accepts, with the profile policy and our upstream settings', async () => {
    const prefix = await prefixDir();
    const listen = await freePort();
    // Nothing needs to listen on these: nginx -t only parses and resolves.
    const servers: UpstreamServer[] = [];
    for (let i = 0; i < 3; i++) servers.push({ host: '127.0.0.1', port: await freePort() });

    const tls = { ...(await ensureSelfSignedCert(join(prefix, 'tls'))), listen: await freePort() };
    const conf = await renderNginxConfig({
      prefix,
      listen,
      tls,
      policy: profile.upstream,
      servers,
    });
    await expect(testNginxConfig(prefix, conf)).resolves.toBeUndefined();

    const site = await readFile(join(prefix, 'site.conf'), 'utf8');
    // The directives, without the template's comments (which mention ip_hash, $VARS, ...).
    const lines = site
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter(Boolean);
    // Every placeholder was filled; nginx's own variables were left alone.
    expect(site).not.toContain('${');
    expect(lines).toContain('proxy_set_header X-Forwarded-For $remote_addr;');
    expect(lines).toContain('proxy_set_header X-Request-Id $request_id;');
    expect(lines).toContain(`listen 127.0.0.1:${listen};`);
    expect(lines).toContain(`listen 127.0.0.1:${tls.listen} ssl;`);
    expect(lines).toContain(`ssl_certificate ${tls.cert};`);
    expect(lines).toContain('proxy_set_header X-Forwarded-Proto $scheme;');
    for (const s of servers) {
      expect(lines).toContain(`server ${s.host}:${s.port} max_fails=1 fail_timeout=2s;`);
    }
    expect(lines.includes('ip_hash;')).toBe(profile.upstream === 'ip-hash');
    expect(lines.filter((l) => l.startsWith('ip_hash'))).toHaveLength(
      profile.upstream === 'ip-hash' ? 1 : 0,
    );
    expect(lines.some((l) => /^zone \S+ \S+;$/.test(l))).toBe(true);
    expect(lines).toContain('keepalive_timeout 4s;');
    expect(lines).toContain('proxy_next_upstream error timeout;');
  });
});

describe('nginx -t on a broken config', () => {
  it('rejects an upstream server with an invalid port, with nginx’s own message', async () => {
    const prefix = await prefixDir();
    const conf = await renderNginxConfig({
      prefix,
      listen: await freePort(),
      tls: { ...(await ensureSelfSignedCert(join(prefix, 'tls'))), listen: await freePort() },
      policy: 'round-robin',
      servers: [{ host: '127.0.0.1', port: 70_000 }],
    });
    await expect(testNginxConfig(prefix, conf)).rejects.toThrow(/invalid port/);
  });
});
