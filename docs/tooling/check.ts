/**
 * The docs check (`npm run docs:check`, run by CI) and generator (`npm run docs:generate`).
 * The check fails when a relative link or anchor does not resolve, a row of the profile table has
 * no page, a generated section is stale or unknown, a measured figure is typed by hand, or a page
 * is longer than a reader will read.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { profileNames } from '../../cluster/profiles.js';
import type { BenchResult } from '../../bench/results.js';
import { anchorsOf, fillBlocks, generatedBlocks, handTypedFigures, linksOf } from './markdown.js';
import { profilePage, renderSection } from './sections.js';

export const README = 'README.md';
export const README_MAX_LINES = 250;
export const PAGE_MAX_LINES = 300;
/** Generated as a whole (bench/cli.ts): its links are checked, its figures are its purpose. */
const GENERATED_PAGES = ['bench/REPORT.md'];
/** Sections the README must carry (the issue's "profile table and guarantee table"). */
const README_SECTIONS = ['profiles', 'guarantees'];

/** The files of a checkout, relative to its root: tracked, or new and not ignored. */
export interface Tree {
  files: Set<string>;
  read(path: string): string;
}

export function treeAt(root: string): Tree {
  const listed = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: root, encoding: 'utf8' },
  );
  const files = new Set(listed.split('\0').filter(Boolean));
  return { files, read: (path) => readFileSync(join(root, path), 'utf8') };
}

/** README.md and every page under docs/: what the checks below cover. */
export const docPages = (tree: Tree) =>
  [...tree.files]
    .filter((f) => f === README || (f.startsWith('docs/') && f.endsWith('.md')))
    .sort();

export interface Problem {
  page: string;
  line?: number;
  message: string;
}

const isDir = (tree: Tree, path: string) => {
  const prefix = path.endsWith('/') ? path : `${path}/`;
  for (const f of tree.files) if (f.startsWith(prefix)) return true;
  return false;
};

function linkProblems(tree: Tree, page: string, text: string): Problem[] {
  const problems: Problem[] = [];
  for (const { href, line } of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // http:, https:, mailto:
    const [rawPath, anchor] = href.split('#', 2) as [string, string | undefined];
    const path = decodeURIComponent(rawPath);
    const target = path
      ? normalize(join(dirname(page), path))
          .split(sep)
          .join('/')
      : page;
    const say = (message: string) => problems.push({ page, line, message });
    if (target.startsWith('../') || target === '..') {
      say(`link "${href}" leaves the repository`);
      continue;
    }
    const clean = target.replace(/\/$/, '');
    if (!tree.files.has(clean) && !isDir(tree, clean)) {
      say(`link "${href}": ${clean} does not exist`);
      continue;
    }
    if (anchor !== undefined && clean.endsWith('.md')) {
      if (!anchorsOf(tree.read(clean)).has(anchor))
        say(`link "${href}": no heading #${anchor} in ${clean}`);
    }
  }
  return problems;
}

/** Every problem of the docs in `tree`, judged against the committed benchmark run `result`. */
export function checkDocs(tree: Tree, result: BenchResult): Problem[] {
  const problems: Problem[] = [];
  const pages = docPages(tree);
  for (const page of pages) {
    const text = tree.read(page);
    const say = (message: string, line?: number) => problems.push({ page, line, message });
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    const max = page === README ? README_MAX_LINES : PAGE_MAX_LINES;
    if (lines > max) say(`${lines} lines, more than ${max}`);
    for (const block of generatedBlocks(text)) {
      const line = text.slice(0, block.start).split('\n').length;
      const expected = renderSection(block.name, { page, result });
      if (expected === undefined) say(`unknown generated section "${block.name}"`, line);
      else if (expected.trim() !== block.content) {
        say(`generated section "${block.name}" is stale: run npm run docs:generate`, line);
      }
    }
    for (const f of handTypedFigures(text)) {
      say(
        `"${f.text}" is a figure typed by hand: take it from a generated section, write a setting as code, or mark an example`,
        f.line,
      );
    }
    problems.push(...linkProblems(tree, page, text));
  }
  for (const page of GENERATED_PAGES) {
    if (tree.files.has(page)) problems.push(...linkProblems(tree, page, tree.read(page)));
  }

  const readme = tree.files.has(README)
    ? generatedBlocks(tree.read(README)).map((b) => b.name)
    : [];
  for (const name of README_SECTIONS) {
    if (!readme.includes(name))
      problems.push({ page: README, message: `no generated "${name}" section` });
  }
  for (const name of profileNames) {
    const page = profilePage(name);
    if (!tree.files.has(page)) {
      problems.push({ page, message: `profile "${name}" has no page` });
      continue;
    }
    if (!generatedBlocks(tree.read(page)).some((b) => b.name === `figures:${name}`)) {
      problems.push({ page, message: `no generated "figures:${name}" section` });
    }
  }
  for (const page of pages) {
    const [, name] = /^docs\/profiles\/([^/]+)\.md$/.exec(page) ?? [];
    if (name !== undefined && !(profileNames as string[]).includes(name)) {
      problems.push({ page, message: `"${name}" is not a row of the profile table` });
    }
  }
  return problems;
}

/** Each page whose generated sections change, with its new text. */
export function generateDocs(tree: Tree, result: BenchResult): Map<string, string> {
  const changed = new Map<string, string>();
  for (const page of docPages(tree)) {
    const text = tree.read(page);
    const next = fillBlocks(text, (name) => renderSection(name, { page, result }));
    if (next !== text) changed.set(page, next);
  }
  return changed;
}

export const problemText = (p: Problem) => `${p.page}${p.line ? `:${p.line}` : ''}: ${p.message}`;
