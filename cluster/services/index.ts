/**
 * Every service plugin, by name. Postgres, the app and nginx are in every profile; the others
 * run where a profile's session backend names them in its `services`. A new kind of server is
 * one file in this folder and one entry here.
 */
import { appService } from './app.js';
import { memcachedService } from './memcached.js';
import { nginxService } from './nginx.js';
import { postgresService } from './postgres.js';
import { redisService } from './redis.js';
import { redisClusterService } from './redis-cluster.js';
import { redisHaService } from './redis-ha.js';
import { backendOf, type Profile } from '../profiles.js';
import type { ServicePlugin } from './service.js';

export const servicePlugins: Record<string, ServicePlugin> = {
  postgres: postgresService,
  redis: redisService,
  memcached: memcachedService,
  'redis-ha': redisHaService,
  'redis-cluster': redisClusterService,
  app: appService,
  nginx: nginxService,
};

export function servicePlugin(name: string): ServicePlugin {
  const plugin = Object.hasOwn(servicePlugins, name) ? servicePlugins[name] : undefined;
  if (!plugin) throw new Error(`no service plugin "${name}" in cluster/services/`);
  return plugin;
}

export type { FailoverPair, Member, ServicePlugin, StoreObserver } from './service.js';

/**
 * The plugins a profile runs, in start order: the database, the servers its session backend
 * needs, the app (migrations, then the replicas), and nginx in front. Stopped in reverse.
 */
export function pluginsOf(profile: Profile): ServicePlugin[] {
  // Once each: a backend that keeps sessions in Postgres names it too.
  const plugins = new Set([
    postgresService,
    ...backendOf(profile).services.map(servicePlugin),
    appService,
    nginxService,
  ]);
  return [...plugins];
}
