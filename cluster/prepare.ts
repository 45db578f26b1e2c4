/**
 * `node dist/tools/cluster/prepare.js <service>`: runs the `prepare` of one compose service (its
 * config files, the role it starts in) on its volume, in a one-shot container from the app
 * image, before the server's own container starts. The same code the native runner runs before
 * every start of that server (cluster/services/).
 */
import { describeAll } from './render/compose-place.js';
import { isServer } from './services/description.js';

const [service] = process.argv.slice(2);
const units = (await describeAll()).flatMap(({ described }) => described.units);
const server = units.filter(isServer).find((u) => u.service === service && u.prepare);
if (!server?.prepare) {
  const known = units
    .filter(isServer)
    .filter((u) => u.prepare)
    .map((u) => u.service);
  console.error(
    `prepare: no compose service "${service ?? ''}" with a prepare step; known: ${[...new Set(known)].join(', ')}`,
  );
  process.exit(2);
}
await server.prepare();
console.log(`prepared ${server.service}`);
