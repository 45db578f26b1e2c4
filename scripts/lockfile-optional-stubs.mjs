#!/usr/bin/env node
// Run after `npm install` changes package-lock.json (npm run lockfile:fix).
//
// Why: the registry these machines reach serves only the Linux builds of packages such as
// @swc/core-* and @unrs/resolver-binding-*. npm then writes a lockfile without the other
// platforms' optional packages, and `npm ci` refuses its own lockfile as "out of sync"
// (npm/cli#9846). A stub entry (name, version, optional) satisfies the check; npm skips or
// fetches it like any optional package, so installs stay exactly as locked.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[hoisted]) continue;
    lock.packages[hoisted] = { version, optional: true };
    added++;
  }
}
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`package-lock.json: ${added} optional stub(s) added`);
