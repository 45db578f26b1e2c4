/**
 * npm run docs:generate — fill the generated sections of README.md and docs/ from the profile
 * table and the committed benchmark run (bench/REPORT.json).
 * npm run docs:check — fail, naming each page and line, when the docs are not what they claim
 * (see check.ts); CI runs it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../cluster/paths.js';
import { COMMITTED_RESULT } from '../../bench/render.js';
import type { BenchResult } from '../../bench/results.js';
import { checkDocs, docPages, generateDocs, problemText, treeAt } from './check.js';

const USAGE = 'usage: docs/tooling/cli.js generate | check';

function main(command: string | undefined): number {
  if (command !== 'generate' && command !== 'check') {
    console.error(USAGE);
    return 2;
  }
  const result = JSON.parse(readFileSync(COMMITTED_RESULT, 'utf8')) as BenchResult;
  const tree = treeAt(PROJECT_ROOT);
  if (command === 'generate') {
    const changed = generateDocs(tree, result);
    for (const [page, text] of changed) {
      writeFileSync(join(PROJECT_ROOT, page), text);
      console.log(`wrote ${page}`);
    }
    console.log(`${changed.size} of ${docPages(tree).length} pages changed`);
    return 0;
  }
  const problems = checkDocs(tree, result);
  for (const p of problems) console.error(problemText(p));
  console.log(
    problems.length
      ? `docs check: ${problems.length} problem(s) in ${docPages(tree).length} pages`
      : `docs check: ${docPages(tree).length} pages, links, anchors and generated sections OK`,
  );
  return problems.length ? 1 : 0;
}

process.exitCode = main(process.argv[2]);
