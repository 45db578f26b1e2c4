import { describe, expect, it } from '@jest/globals';
import { sessionBackends, type SessionBackendRecord } from '../src/session/backends/index.js';
import {
  backendOf,
  guaranteesOf,
  isProfileName,
  profileNames,
  profileOf,
  replicaNames,
  routingOf,
} from './profiles.js';
import { routingStrategies } from './routing/index.js';
import { pluginsOf, servicePlugins } from './services/index.js';

describe('profile table', () => {
  it.each(profileNames)('%s names a session backend and a routing strategy that exist', (name) => {
    const profile = profileOf(name);
    expect(Object.keys(sessionBackends)).toContain(profile.sessions);
    expect(Object.keys(routingStrategies)).toContain(profile.routing);
    expect(profile.name).toBe(name);
  });

  it.each(profileNames)(
    '%s: every server its backend needs has a plugin, run before the app',
    (name) => {
      const profile = profileOf(name);
      const plugins = pluginsOf(profile).map((p) => p.name);
      for (const service of backendOf(profile).services) {
        expect(Object.keys(servicePlugins)).toContain(service);
        expect(plugins.indexOf(service)).toBeLessThan(plugins.indexOf('app'));
      }
      expect(plugins[0]).toBe('postgres');
      expect(plugins.slice(-2)).toEqual(['app', 'nginx']);
    },
  );

  it.each(profileNames)(
    '%s declares "survives a store restart" exactly when its backend has servers to restart',
    (name) => {
      const profile = profileOf(name);
      expect(profile.guarantees.survivesStoreRestart !== undefined).toBe(
        backendOf(profile).services.length > 0,
      );
    },
  );

  it('derives the session-list and login-limit guarantees from the backend scope', () => {
    for (const name of profileNames) {
      const profile = profileOf(name);
      const { scope } = backendOf(profile);
      expect(guaranteesOf(profile)).toMatchObject({
        ...profile.guarantees,
        sessionListClusterWide: scope.sessionList === 'cluster',
        loginLimitClusterWide: scope.loginLimit === 'cluster',
      });
    }
  });

  it('says how many replicas hold a session exactly for the backends with a peer channel', () => {
    for (const record of Object.values(sessionBackends) as SessionBackendRecord[])
      expect({ name: record.name, copies: record.copies !== undefined }).toEqual({
        name: record.name,
        copies: record.peerChannel === true,
      });
  });

  it('keys each backend by its own name', () => {
    for (const [key, record] of Object.entries(sessionBackends)) expect(record.name).toBe(key);
    for (const [key, strategy] of Object.entries(routingStrategies))
      expect(strategy.name).toBe(key);
    for (const [key, plugin] of Object.entries(servicePlugins)) expect(plugin.name).toBe(key);
  });

  it('renders each profile routing over any number of replicas', () => {
    for (const name of profileNames) {
      const servers = replicaNames(4).map((name) => ({ name, host: name, port: 3000 }));
      const { blocks, target } = routingOf(profileOf(name)).render(servers);
      for (const s of servers) expect(blocks).toContain(`server ${s.host}:${s.port} `);
      expect(target).toMatch(/^\$?[A-Za-z0-9_]+$/);
    }
  });

  it('names replicas app-1..N and recognises profile names', () => {
    expect(replicaNames(3)).toEqual(['app-1', 'app-2', 'app-3']);
    expect(isProfileName('sticky')).toBe(true);
    expect(isProfileName('constructor')).toBe(false); // not fooled by Object.prototype
  });
});
