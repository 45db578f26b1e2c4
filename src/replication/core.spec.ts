import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { defined } from '../common/defined.js';

/**
 * The replication core (src/replication/core/) does no I/O: its state machines take messages and
 * time and hand what to send to the PeerLink they are given. ESLint's no-restricted-imports says
 * so per file; this checks it from the other side, over everything the core reaches: every
 * module it imports, transitively, is in core/ or on a short list of packages that do no I/O,
 * and no core module uses a global that reaches the world or reads a clock (timers, process,
 * network, performance, Date, console), nor a dynamic import.
 */
const CORE = path.join(import.meta.dirname, 'core');
/** What the core may use: the file eslint.config.js reads too. */
const ioFree = JSON.parse(readFileSync(path.join(CORE, 'io-free.json'), 'utf8')) as {
  packages: string[];
  specPackages: string[];
  worldGlobals: string[];
};
const ALLOWED = new Set(ioFree.packages);
/** What specs inside core/ may use besides. */
const ALLOWED_IN_SPECS = new Set(ioFree.specPackages);
/** Globals that reach the world or read a clock: the core is given time and logging instead. */
const WORLD = new Set(ioFree.worldGlobals);

type Files = ReadonlyMap<string, string>;

/** What the core does that it must not, one line per finding (empty when it is I/O-free). */
function ioFindings(files: Files, root: string): string[] {
  const findings: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = files.get(file);
    if (text === undefined) return void findings.push(`${file}: imported, but not found`);
    const rel = path.relative(root, file);
    const spec = file.endsWith('.spec.ts');
    for (const { fileName: target } of ts.preProcessFile(text, true, true).importedFiles) {
      if (target.startsWith('.')) {
        const resolved = path.resolve(path.dirname(file), target.replace(/\.js$/, '.ts'));
        if (path.relative(root, resolved).startsWith('..'))
          findings.push(`${rel}: imports ${target}, outside the core`);
        else visit(resolved);
      } else if (!ALLOWED.has(target) && !(spec && ALLOWED_IN_SPECS.has(target))) {
        findings.push(`${rel}: imports ${target}`);
      }
    }
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const walk = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
        findings.push(`${rel}: a dynamic import()`);
      // A global used by name; not a property or member that happens to share it (`x.process`).
      const parent = node.parent as ts.Node | undefined;
      const named =
        parent !== undefined &&
        (ts.isPropertyAccessExpression(parent) ||
          ts.isPropertyAssignment(parent) ||
          ts.isPropertyDeclaration(parent) ||
          ts.isMethodDeclaration(parent) ||
          ts.isPropertySignature(parent)) &&
        parent.name === node;
      if (ts.isIdentifier(node) && WORLD.has(node.text) && !named)
        findings.push(`${rel}: uses ${node.text}`);
      ts.forEachChild(node, walk);
    };
    walk(source);
  };
  for (const file of files.keys()) if (file.startsWith(root + path.sep)) visit(file);
  return findings;
}

function coreFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(CORE, { recursive: true, withFileTypes: true }))
    if (entry.isFile() && entry.name.endsWith('.ts')) {
      const file = path.join(entry.parentPath, entry.name);
      files.set(file, readFileSync(file, 'utf8'));
    }
  return files;
}

describe('the replication core', () => {
  it('imports nothing that does I/O, transitively, and uses no global that does', () => {
    const files = coreFiles();
    expect(files.size).toBeGreaterThan(10);
    expect(ioFindings(files, CORE)).toEqual([]);
  });

  it('is caught importing a socket, a thread, a timer module or a layer around it, or using a global that does I/O', () => {
    const files = coreFiles();
    const replica = path.join(CORE, 'replica.ts');
    const replicaSource = defined(files.get(replica), 'the source of replica.ts');
    const leaks: Array<[string, string]> = [
      [`import { WebSocket } from 'ws';`, 'imports ws'],
      [`import { Worker } from 'node:worker_threads';`, 'imports node:worker_threads'],
      [`import { setTimeout } from 'node:timers/promises';`, 'imports node:timers/promises'],
      [`import { PeerChannel } from '../channel/peer-channel.js';`, 'outside the core'],
      [`const t = setInterval(() => undefined, 10);`, 'uses setInterval'],
      // After a template literal (a bare scanner loses track there), and through globalThis.
      ['const s = `${1}`; globalThis.setTimeout(() => undefined, 1);', 'uses globalThis'],
      [`const f = await import('node:fs');`, 'a dynamic import()'],
      [`const at = performance.now();`, 'uses performance'],
      [`console.warn('x');`, 'uses console'],
    ];
    for (const [line, finding] of leaks) {
      const leaky = new Map(files).set(replica, `${line}\n${replicaSource}`);
      expect(ioFindings(leaky, CORE).join('\n')).toContain(finding);
    }
    // A new file of the core, imported by another: found as well.
    const helper = path.join(CORE, 'helper.ts');
    const indirect = new Map(files)
      .set(helper, `import net from 'node:net';\nexport const n = net;`)
      .set(replica, `import { n } from './helper.js';\n${replicaSource}`);
    expect(ioFindings(indirect, CORE)).toContain('helper.ts: imports node:net');
  });
});
