import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { PROJECT_ROOT } from '../../cluster/paths.js';
import { profileNames } from '../../cluster/profiles.js';
import { COMMITTED_RESULT } from '../../bench/render.js';
import type { BenchResult } from '../../bench/results.js';
import { defined } from '../../src/common/defined.js';
import { checkDocs, generateDocs, problemText, treeAt, type Tree } from './check.js';
import { anchorsOf, fillBlocks, handTypedFigures, linksOf } from './markdown.js';
import { renderSection } from './sections.js';

const result = JSON.parse(readFileSync(COMMITTED_RESULT, 'utf8')) as BenchResult;

/** A checkout in memory: path → text. */
function tree(pages: Record<string, string>): Tree {
  const files = new Map(Object.entries(pages));
  return {
    files: new Set(files.keys()),
    read: (path) => {
      const text = files.get(path);
      if (text === undefined) throw new Error(`no ${path}`);
      return text;
    },
  };
}

/** A README with its required sections, and a page per profile with its figures, all current. */
function minimalDocs(extra: Record<string, string> = {}): Record<string, string> {
  const pages: Record<string, string> = {
    'README.md':
      '# x\n\n<!-- generated:profiles -->\n<!-- /generated -->\n\n<!-- generated:guarantees -->\n<!-- /generated -->\n',
    'src/main.ts': '',
    'bench/REPORT.md': '# Benchmark report\n',
    'bench/faults.svg': '<svg/>',
    ...Object.fromEntries(
      profileNames.map((n) => [
        `docs/profiles/${n}.md`,
        `# ${n}\n\n## Figures\n\n<!-- generated:figures:${n} -->\n<!-- /generated -->\n`,
      ]),
    ),
  };
  for (const [page, text] of generateDocs(tree(pages), result)) pages[page] = text;
  return { ...pages, ...extra };
}

const problemsOf = (pages: Record<string, string>) =>
  checkDocs(tree(pages), result).map(problemText);

describe('the docs check', () => {
  it('passes the docs of this checkout (a broken link, stale table or typed figure fails here)', () => {
    expect(checkDocs(treeAt(PROJECT_ROOT), result).map(problemText)).toEqual([]);
  });

  it('passes a minimal set of docs once generated', () => {
    expect(problemsOf(minimalDocs())).toEqual([]);
  });

  it('fails on a link to a file that does not exist, and names page and line', () => {
    const pages = minimalDocs({ 'docs/a.md': '# A\n\nSee [the code](../src/mian.ts).\n' });
    expect(problemsOf(pages)).toEqual([
      'docs/a.md:3: link "../src/mian.ts": src/mian.ts does not exist',
    ]);
  });

  it('fails on an anchor no heading makes, in the same page or another', () => {
    const pages = minimalDocs({
      'docs/a.md':
        '# A\n\n## The `redis` store: shared\n\n[x](#the-redis-store-shared) [y](b.md#nope) [z](#gone)\n',
      'docs/b.md': '# B\n',
    });
    expect(problemsOf(pages)).toEqual([
      'docs/a.md:5: link "b.md#nope": no heading #nope in docs/b.md',
      'docs/a.md:5: link "#gone": no heading #gone in docs/a.md',
    ]);
  });

  it('fails on a link out of the repository, and ignores links with a scheme', () => {
    const pages = minimalDocs({
      'docs/a.md':
        '# A\n\n[out](../../shared/DESIGN.md) [web](https://nginx.org/) [mail](mailto:a@b.c)\n',
    });
    expect(problemsOf(pages)).toEqual([
      'docs/a.md:3: link "../../shared/DESIGN.md" leaves the repository',
    ]);
  });

  it('fails when a row of the profile table has no page, or a page has no row', () => {
    const pages = minimalDocs({ 'docs/profiles/nosuch.md': '# nosuch\n' });
    delete pages['docs/profiles/redis.md'];
    expect(problemsOf(pages)).toEqual([
      expect.stringMatching(
        /^README\.md:\d+: link "docs\/profiles\/redis\.md": .* does not exist$/,
      ),
      'docs/profiles/redis.md: profile "redis" has no page',
      'docs/profiles/nosuch.md: "nosuch" is not a row of the profile table',
    ]);
  });

  it('fails on a stale or unknown generated section, and generate makes it current', () => {
    const pages = minimalDocs({
      'docs/a.md':
        '# A\n\n<!-- generated:targets -->\nold figures\n<!-- /generated -->\n\n<!-- generated:nosuch -->\n<!-- /generated -->\n',
    });
    expect(problemsOf(pages)).toEqual([
      'docs/a.md:3: generated section "targets" is stale: run npm run docs:generate',
      'docs/a.md:7: unknown generated section "nosuch"',
    ]);
    const fixed = { ...pages, ...Object.fromEntries(generateDocs(tree(pages), result)) };
    expect(problemsOf(fixed)).toEqual([
      expect.stringMatching(/^docs\/a\.md:\d+: unknown generated section "nosuch"$/),
    ]);
  });

  it('fails on a README past 250 lines and a page past 300', () => {
    const pages = minimalDocs({ 'docs/long.md': '# Long\n' + 'line\n'.repeat(300) });
    pages['README.md'] = defined(pages['README.md'], 'the README') + 'line\n'.repeat(250);
    expect(problemsOf(pages)).toEqual([
      expect.stringMatching(/^README\.md: \d+ lines, more than 250$/),
      'docs/long.md: 301 lines, more than 300',
    ]);
  });
});

describe('figures typed by hand', () => {
  const units = ['ms', 'µs', 'req/s', 'MiB', 'KiB', 'kB', 'B', '%'];
  const number = fc
    .tuple(fc.integer({ min: 0, max: 99_999 }), fc.option(fc.integer({ min: 0, max: 99 })))
    .map(([a, b]) => (b === null ? a.toLocaleString('en-US') : `${a}.${b}`));

  it('are found in prose, whatever the number and unit', () => {
    fc.assert(
      fc.property(number, fc.constantFrom(...units), fc.boolean(), (n, unit, space) => {
        const figure = `${n}${space ? ' ' : ''}${unit}`;
        expect(handTypedFigures(`# T\n\nThe read took ${figure} here.\n`)).toEqual([
          { text: figure, line: 3 },
        ]);
      }),
    );
  });

  it('are not looked for in code, comments, examples or generated sections', () => {
    fc.assert(
      fc.property(number, fc.constantFrom(...units), (n, unit) => {
        const f = `${n} ${unit}`;
        const text = [
          `A setting: \`BACKEND_TIMEOUT_MS=${f}\`, a link [x](a-${f}.md).`,
          '```bash',
          `echo ${f}`,
          '```',
          `<!-- ${f} -->`,
          `<!-- example -->${f}<!-- /example -->`,
          '<!-- generated:targets -->',
          f,
          '<!-- /generated -->',
        ].join('\n');
        expect(handTypedFigures(text)).toEqual([]);
      }),
    );
  });

  it('leave alone counts, names with digits and units glued to words', () => {
    expect(
      handTypedFigures('300 clients, T8, SHA-256, IPv4, app-2, 5 wrong passwords, 3 KiBs\n'),
    ).toEqual([]);
  });
});

describe('markdown reading', () => {
  it('finds links and images with their lines, not links shown as code', () => {
    const text = '# A\n\n[a](x.md) ![b](y.png)\n\n```\n[c](z.md)\n```\n\n`[d](w.md)`\n';
    expect(linksOf(text)).toEqual([
      { href: 'x.md', line: 3 },
      { href: 'y.png', line: 3 },
    ]);
  });

  it("makes GitHub's anchors: lowercase, punctuation gone, code kept, duplicates numbered", () => {
    const anchors = anchorsOf(
      '# Top\n\n## `redis-ha` and `redis-cluster`: the store\n\n## Run it\n\n## Run it\n\n## 10. The fault matrix\n',
    );
    expect([...anchors]).toEqual([
      'top',
      'redis-ha-and-redis-cluster-the-store',
      'run-it',
      'run-it-1',
      '10-the-fault-matrix',
    ]);
  });

  it('fills each generated block with its section, leaving unknown ones as they are', () => {
    const text =
      'a\n<!-- generated:x -->\nold\n<!-- /generated -->\nb\n<!-- generated:y -->\n<!-- /generated -->\n';
    expect(fillBlocks(text, (n) => (n === 'x' ? 'new' : undefined))).toBe(
      'a\n<!-- generated:x -->\n\nnew\n\n<!-- /generated -->\nb\n<!-- generated:y -->\n<!-- /generated -->\n',
    );
  });

  it('renders a figures section for every row, links relative to the page', () => {
    for (const name of profileNames) {
      const section = renderSection(`figures:${name}`, {
        page: `docs/profiles/${name}.md`,
        result,
      });
      expect(section).toContain('](../../bench/REPORT.md)');
    }
    expect(renderSection('profiles', { page: 'README.md', result })).toContain(
      '[`redis`](docs/profiles/redis.md)',
    );
    expect(renderSection('figures:nosuch', { page: 'README.md', result })).toBeUndefined();
  });
});
