/**
 * deploy/k8s/ from the profile table (render/k8s.ts), and its checks.
 *
 *   npm run k8s:generate   rewrites deploy/k8s/ (a base and one overlay per profile)
 *   npm run k8s:check      the committed files are what the table renders; every overlay builds
 *                          with `kubectl kustomize`; every object it builds is valid against the
 *                          Kubernetes schemas (kubernetes-models) and passes the policy check
 *
 * The unit suite runs the same checks (render/k8s.spec.ts).
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from './paths.js';
import { errorCode, errorMessage } from './process/poll.js';
import { profileNames } from './profiles.js';
import { renderK8s } from './render/k8s.js';
import { checkPolicy, type Finding } from './render/k8s-policy.js';
import { schemaErrors } from './render/k8s-schema.js';

export const K8S_DIR = join(PROJECT_ROOT, 'deploy', 'k8s');

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export const generateK8s = async () => renderK8s(undefined, await version());

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Writes deploy/k8s/ anew: files no longer rendered are removed. */
export async function writeK8s(dir = K8S_DIR): Promise<number> {
  const { files } = await generateK8s();
  for (const stale of await filesUnder(dir)) if (!files.has(stale)) await rm(join(dir, stale));
  for (const [path, text] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return files.size;
}

/** Files that differ from what the table renders: changed, missing or no longer rendered. */
export async function staleK8s(dir = K8S_DIR): Promise<string[]> {
  const { files } = await generateK8s();
  const committed = await filesUnder(dir);
  const stale = committed.filter((f) => !files.has(f));
  for (const [path, text] of files) {
    const now = await readFile(join(dir, path), 'utf8').catch(() => undefined);
    if (now !== text) stale.push(path);
  }
  return stale.sort();
}

/** `kubectl kustomize` of one overlay: the objects a user's `kubectl apply -k` would send. */
export async function kustomize(overlay: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', overlay], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: unknown) => {
    if (errorCode(err) === 'ENOENT')
      throw new Error('kubectl is not installed: the check needs kubectl 1.21 or later');
    // execFile's error holds what kubectl said on stderr (no `instanceof`: see errorCode).
    const stderr = typeof err === 'object' && err !== null && 'stderr' in err ? err.stderr : '';
    const said = typeof stderr === 'string' ? stderr : '';
    throw new Error(`kubectl kustomize ${overlay}: ${said.trim() || errorMessage(err)}`);
  });
  // YAML 1.1, as kubectl writes it.
  return parseAllDocuments(stdout, { version: '1.1' }).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
}

export interface ObjectsCheck {
  profile: string;
  objects: number;
  schema: string[];
  policy: Finding[];
}

/** Each object against its schema, and all of a profile's against the policy. */
export async function checkObjects(
  profile: string,
  objects: readonly Record<string, unknown>[],
): Promise<ObjectsCheck> {
  const schema: string[] = [];
  for (const o of objects) schema.push(...(await schemaErrors(o)));
  return { profile, objects: objects.length, schema, policy: checkPolicy(objects) };
}

/**
 * An object list in one order, its keys sorted and its lists of named things by name: what
 * kustomize may reorder. Not an environment: its order matters (`$(NAME)` of an earlier entry).
 */
export function canonical(objects: readonly unknown[]): string {
  const byName = (a: unknown, b: unknown) =>
    String((a as { name: unknown }).name).localeCompare(String((b as { name: unknown }).name));
  const sorted = (v: unknown, key = ''): unknown => {
    if (Array.isArray(v)) {
      const items = v.map((x) => sorted(x));
      const named = items.every((i) => i !== null && typeof i === 'object' && 'name' in i);
      return named && key !== 'env' ? [...items].sort(byName) : items;
    }
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([, x]) => x !== undefined)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, x]) => [k, sorted(x, k)]),
      );
    return v;
  };
  return objects
    .map((o) => JSON.stringify(sorted(o)))
    .sort()
    .join('\n');
}

export interface OverlayCheck extends ObjectsCheck {
  /** Whether kubectl built what the renderer meant the overlay to be. */
  asRendered: boolean;
}

/** Every overlay built by kubectl, each object checked, and the build compared with the renderer's. */
export async function checkOverlays(dir = K8S_DIR): Promise<OverlayCheck[]> {
  const { objects } = await generateK8s();
  const out: OverlayCheck[] = [];
  for (const profile of profileNames) {
    const built = await kustomize(join(dir, 'overlays', profile));
    out.push({
      ...(await checkObjects(profile, built)),
      asRendered: canonical(built) === canonical(objects.get(profile) ?? []),
    });
  }
  return out;
}

async function main(command: string | undefined): Promise<number> {
  if (command === 'generate') {
    const n = await writeK8s();
    console.log(`wrote ${n} files under ${relative(PROJECT_ROOT, K8S_DIR)}/`);
    return 0;
  }
  if (command !== 'check') {
    console.error('usage: npm run k8s:generate | npm run k8s:check');
    return 2;
  }
  let failed = 0;
  const stale = await staleK8s();
  if (stale.length) {
    failed++;
    console.error(`stale (run npm run k8s:generate): ${stale.join(', ')}`);
  }
  for (const c of await checkOverlays()) {
    const problems = [
      ...(c.asRendered ? [] : ['kubectl kustomize built something else than the renderer meant']),
      ...c.schema,
      ...c.policy.map((f) => `${f.rule}: ${f.object}: ${f.message}`),
    ];
    if (problems.length) failed++;
    console.log(
      `${c.profile}: ${c.objects} objects, ${problems.length ? `${problems.length} problem(s)` : 'valid, policy clean'}`,
    );
    for (const p of problems) console.log(`  ${p}`);
  }
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(resolve(process.argv[1] ?? '')).href)
  process.exitCode = await main(process.argv[2]).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    return 1;
  });
