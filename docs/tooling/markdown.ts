/**
 * What the docs check reads out of one Markdown page: its generated sections, its links and
 * headings (markdown-it parses, so a link inside a code block is not a link), and any measured
 * figure typed by hand outside a generated section.
 */
import GithubSlugger from 'github-slugger';
import MarkdownIt from 'markdown-it';
import { defined } from '../../src/common/defined.js';
type Token = ReturnType<InstanceType<typeof MarkdownIt>['parse']>[number];

const md = new MarkdownIt({ html: true });

export interface GeneratedBlock {
  name: string;
  /** The text between the markers, without the blank lines around it. */
  content: string;
  /** Offsets of the whole block, markers included. */
  start: number;
  end: number;
}

const BLOCK = /<!-- generated:([\w:.-]+) -->\n([\s\S]*?)<!-- \/generated -->/g;

export function generatedBlocks(text: string): GeneratedBlock[] {
  return [...text.matchAll(BLOCK)].map((m) => ({
    name: defined(m[1], "a generated block's name"),
    content: defined(m[2], "a generated block's content").trim(),
    start: m.index,
    end: m.index + m[0].length,
  }));
}

/** The page with every generated block filled by `render` (a name it does not know stays as is). */
export function fillBlocks(text: string, render: (name: string) => string | undefined): string {
  return text.replace(BLOCK, (whole, name: string) => {
    const content = render(name);
    return content === undefined
      ? whole
      : `<!-- generated:${name} -->\n\n${content.trim()}\n\n<!-- /generated -->`;
  });
}

export interface Link {
  href: string;
  line: number;
}

function inlineTokens(tokens: Token[]): { token: Token; line: number }[] {
  // A table cell's inline token has no line of its own: it takes its row's.
  let line = 1;
  return tokens.flatMap((t) => {
    if (t.map) line = t.map[0] + 1;
    return t.type === 'inline' && t.children ? t.children.map((c) => ({ token: c, line })) : [];
  });
}

/** Every link and image target of the page (Markdown and HTML `href`/`src`). */
export function linksOf(text: string): Link[] {
  const tokens = md.parse(text, {});
  const links: Link[] = [];
  for (const { token, line } of inlineTokens(tokens)) {
    const href =
      token.type === 'link_open'
        ? token.attrGet('href')
        : token.type === 'image'
          ? token.attrGet('src')
          : null;
    if (href !== null) links.push({ href: String(href), line });
  }
  for (const t of tokens) {
    if (t.type !== 'html_block') continue;
    for (const m of t.content.matchAll(/\b(?:href|src)="([^"]+)"/g)) {
      links.push({ href: defined(m[1], 'an HTML link target'), line: (t.map?.[0] ?? 0) + 1 });
    }
  }
  return links;
}

/** The anchors GitHub makes for the page's headings (`## The fault matrix` → `the-fault-matrix`). */
export function anchorsOf(text: string): Set<string> {
  const tokens = md.parse(text, {});
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  tokens.forEach((t, i) => {
    if (t.type !== 'heading_open') return;
    const inline = defined(tokens[i + 1], "a heading's text");
    const words = (inline.children ?? [])
      .filter((c) => c.type === 'text' || c.type === 'code_inline')
      .map((c) => c.content)
      .join('');
    anchors.add(slugger.slug(words));
  });
  return anchors;
}

/**
 * A measured figure: a number with a unit of time, size, rate or share. Settings are written as
 * code (`BACKEND_TIMEOUT_MS=800`), and code is not read here.
 */
const FIGURE = /(?<![\w.\-/])[~≈]?\d+(?:[.,]\d+)*\s?(?:ms|µs|req\/s|[KMG]iB|[kKMG]B|B|%)(?![\w/])/g;

/** Blank out a match but keep its newlines, so that line numbers stay right. */
const blank = (s: string) => s.replace(/[^\n]/g, ' ');

export interface Figure {
  text: string;
  line: number;
}

/**
 * Figures outside generated sections, code (blocks and spans), HTML comments and
 * `<!-- example -->` … `<!-- /example -->` regions (an example is not a claim about this code).
 */
export function handTypedFigures(text: string): Figure[] {
  const prose = text
    .replace(BLOCK, blank)
    .replace(/<!-- example -->[\s\S]*?<!-- \/example -->/g, blank)
    .replace(/^(```|~~~)[\s\S]*?^\1/gm, blank)
    .replace(/<!--[\s\S]*?-->/g, blank)
    .replace(/(`+)[\s\S]*?\1/g, blank)
    .replace(/\]\([^)]*\)/g, blank);
  const lines = prose.split('\n');
  return lines.flatMap((l, i) => [...l.matchAll(FIGURE)].map((m) => ({ text: m[0], line: i + 1 })));
}
