/**
 * The images a compose run needs from somewhere other than its own builds: every `image:` of
 * docker-compose.yml that no `build:` makes, and every base image of the Dockerfiles it builds
 * (`FROM ${NODE_IMAGE}` with the ARG's default). scripts/docker-standins builds a stand-in for
 * each, so this list is what decides which stand-ins a new profile's services need.
 * `node dist/tools/cluster/compose-images.js` prints them, one per line.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { defined } from '../src/common/defined.js';
import { COMPOSE_FILE } from './compose.js';
import { PROJECT_ROOT } from './paths.js';

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
}

/** Base images of a Dockerfile: its FROMs, ARG defaults filled in, its own stages left out. */
export function dockerfileBaseImages(dockerfile: string): string[] {
  const args = new Map<string, string>();
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const line of dockerfile.split('\n').map((l) => l.trim())) {
    const arg = /^ARG\s+(\w+)=(\S+)/i.exec(line);
    if (arg) args.set(defined(arg[1], 'the ARG name'), defined(arg[2], 'the ARG default'));
    const from = /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) continue;
    const image = defined(from[1], 'the FROM image').replace(
      /\$\{?(\w+)\}?/g,
      (_, name: string) => args.get(name) ?? '',
    );
    if (!stages.has(image)) bases.push(image);
    if (from[2]) stages.add(from[2]);
  }
  return bases;
}

/** Image names the compose file pulls (never builds), with the bases of what it builds. */
export function composeImages(
  composeText: string,
  readDockerfile: (contextAndFile: string) => string,
): string[] {
  const { services } = parse(composeText, { merge: true, maxAliasCount: 10_000 }) as {
    services: Record<string, ComposeService>;
  };
  const built = new Set<string>();
  const needed = new Set<string>();
  for (const s of Object.values(services)) {
    if (!s.build) continue;
    if (s.image) built.add(s.image);
    const build = typeof s.build === 'string' ? { context: s.build } : s.build;
    const file = join(build.context ?? '.', build.dockerfile ?? 'Dockerfile');
    for (const base of dockerfileBaseImages(readDockerfile(file))) needed.add(base);
  }
  for (const s of Object.values(services)) if (s.image && !built.has(s.image)) needed.add(s.image);
  return [...needed].sort();
}

/** The repository part of an image name: `postgres` for postgres:16-alpine or library/postgres. */
export function imageRepository(image: string): string {
  const name = image.replace(/@.*/, '').replace(/:[^/:]+$/, '');
  return name.replace(/^(docker\.io\/)?(library\/)?/, '');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const images = composeImages(readFileSync(COMPOSE_FILE, 'utf8'), (file) =>
    readFileSync(join(PROJECT_ROOT, file), 'utf8'),
  );
  for (const image of images) console.log(image);
}
