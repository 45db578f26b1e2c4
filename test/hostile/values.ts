/**
 * The classes of hostile values, as fast-check arbitraries. Each class mixes generated values
 * with known-bad examples (`fc.constantFrom`), among them every value of the hand-written corpus
 * this suite replaced, so a seed that once found a bug keeps being tried.
 */
import fc from 'fast-check';
import type { Field } from './routes.js';

/**
 * A value as it goes on the wire. `json`: any JSON value (its strings may hold NUL or lone
 * surrogates, which JSON.stringify writes as escapes). `raw`: JSON text sent verbatim (numbers
 * JSON.stringify can't write, `__proto__` keys, nesting too deep to build as an object).
 * `bytes`: a string given as its bytes, for invalid UTF-8 (in a form or query: percent-encoded).
 */
export type Piece = { json: unknown } | { raw: string } | { bytes: number[] };

export interface Hostile {
  /** The class of bad value, e.g. "control characters". */
  kind: string;
  piece: Piece;
}

/** What a value generator knows about where the value goes. */
export interface ValueContext {
  /** The DTO field, when the value replaces one (its length bounds shape the "huge" class). */
  field?: Field;
  /** An account that exists, for look-alikes and case variants of a real username. */
  knownUsername: string;
}

const json =
  (kind: string) =>
  (value: unknown): Hostile => ({ kind, piece: { json: value } });
const raw =
  (kind: string) =>
  (text: string): Hostile => ({ kind, piece: { raw: text } });

/** Plain text around an injected character, so the bad part sits at the start, middle or end. */
const filler = fc.string({
  unit: fc.constantFrom('a', 'b', 'z', '0', '9', ' ', '-'),
  maxLength: 8,
});
const around = (inner: fc.Arbitrary<string>) =>
  fc.tuple(filler, inner, filler).map(([a, b, c]) => a + b + c);

const CONTROLS = [
  ...Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)), // C0 except NUL
  '\u007f', // DEL
  ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x80 + i)), // C1
  '\u200b',
  '\u200c',
  '\u200d',
  '\u200e',
  '\u200f', // zero-width, direction marks
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e', // bidi embeddings and overrides
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069', // bidi isolates
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufff9',
  '\ufffb',
  '\u00ad',
  '\u061c',
];

const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', '\ud83d', '\ude00\ud83d'];

const INVALID_UTF8: number[][] = [
  [0xff],
  [0xfe, 0xff],
  [0x80], // a continuation byte with nothing before it
  [0xc0, 0xaf], // overlong "/"
  [0xc0, 0x80], // overlong NUL
  [0xe0, 0x80, 0xaf], // overlong "/", three bytes
  [0xed, 0xa0, 0x80], // an encoded surrogate (CESU-8)
  [0xed, 0xbf, 0xbf],
  [0xe2, 0x82], // truncated euro sign
  [0xf0, 0x9f, 0x98], // truncated emoji
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xf8, 0x88, 0x80, 0x80, 0x80], // five-byte form
];

/** SQL, template, markup and shell metacharacters: harmless as data, fatal if interpreted. */
const METACHARACTERS = [
  "' OR '1'='1' --",
  "x'; DROP TABLE users; --",
  'admin/*',
  '"; SELECT pg_sleep(10); --',
  '<%= process.exit() %>',
  '<%~ it.constructor.constructor("return process")().exit() %>',
  '{{7*7}}',
  '${process.exit()}',
  '#{7*7}',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%s%s%s%n',
  'a\r\nSet-Cookie: sid=evil',
  '{"$ne": null}',
  '$where',
  '*)(uid=*))(|(uid=*',
  '`id`',
  '$(id)',
  '\\',
  '"',
  "'",
];

const LOOK_ALIKES = [
  'аdmin', // Cyrillic а
  'vісtim', // Cyrillic і
  'ｖｉｃｔｉｍ', // fullwidth
  '𝐚𝐝𝐦𝐢𝐧', // mathematical bold
  'adm\u0131n', // dotless i
  'İNVALİD', // Turkish dotted capital I
  '\u212aelvin', // Kelvin sign
  '\ufb01le', // "fi" ligature
  'vic\u200dtim', // zero-width joiner
  'ΑΒΓ', // Greek capitals that look Latin
];

const NORMALIZATION_BASES = ['café', 'Åström', 'ﬁancé', '한국어', 'Straße', 'ẛ̣', '\u212b'];

const OTHER_SCRIPTS = [
  '🙂',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  'Ελληνικά',
  '中文字符',
  'עברית',
  'العربية',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  'ñandú',
];

/** Variants of a real username that must not reach (or be mistaken for) its account. */
function variantsOf(name: string): string[] {
  return [
    name.toUpperCase(),
    name.replace(/i/, 'і'),
    name.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)),
    `${name} `,
    ` ${name}`,
    `${name}\u200d`,
    name.normalize('NFKD'),
  ];
}

function nested(depth: number, open: string, close: string, leaf = '"x"'): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

/** Every class of bad value for one field (or free-standing value: query, path, extra field). */
export function hostileValues(ctx: ValueContext): fc.Arbitrary<Hostile> {
  const max = ctx.field?.maxLength;
  const lengths = [
    1_000,
    15_000,
    17_000,
    70_000,
    ...(max && Number.isFinite(max) ? [max + 1] : []),
  ];
  return fc.oneof(
    fc
      .oneof(
        fc.constantFrom<unknown>(42, 0, -1, 1.5, true, false, null, [], ['a'], {}, [[['x']]]),
        fc.constantFrom<unknown>({ $ne: null }, { $gt: '' }, { toString: 'x' }, { length: 1 }),
        fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v !== 'string'),
      )
      .map(json('wrong type')),
    fc.oneof(
      fc
        .constantFrom(
          Number.MAX_SAFE_INTEGER + 2,
          -Number.MAX_VALUE,
          Number.MAX_VALUE,
          Number.MIN_VALUE,
          -0,
          2 ** 31,
          -(2 ** 31) - 1,
          2 ** 64,
        )
        .map(json('numbers at the edges')),
      fc
        .constantFrom('1e400', '-1e400', '123456789012345678901234567890', '-0.0', '1E+2', '0e0')
        .map(raw('numbers at the edges')),
      fc.double().map(json('numbers at the edges')),
    ),
    fc.constantFrom('', ' ', '\t', '\n', '\u00a0', '\u3000', ' x ').map(json('empty and blank')),
    fc
      .tuple(fc.constantFrom(...lengths), fc.constantFrom('x', 'é', '🙂', '\u0301'))
      .map(([n, ch]) => json('huge strings')(ch.repeat(n))),
    around(fc.constantFrom(...CONTROLS)).map(json('control characters')),
    around(fc.constantFrom('\u0000', '\u0000\u0000', '%00', '\\u0000')).map(json('NUL bytes')),
    around(fc.constantFrom(...LONE_SURROGATES)).map(json('lone surrogates')),
    fc
      .tuple(
        fc.constantFrom(...INVALID_UTF8),
        fc.constantFrom([], [0x61]),
        fc.constantFrom([], [0x7a]),
      )
      .map(([bad, pre, post]) => ({
        kind: 'invalid UTF-8',
        piece: { bytes: [...pre, ...bad, ...post] },
      })),
    fc.constantFrom(...LOOK_ALIKES, ...variantsOf(ctx.knownUsername)).map(json('look-alikes')),
    fc
      .tuple(
        fc.constantFrom(...NORMALIZATION_BASES),
        fc.constantFrom('NFC', 'NFD', 'NFKC', 'NFKD') as fc.Arbitrary<'NFC'>,
      )
      .map(([s, form]) => json('normalization forms')(s.normalize(form))),
    fc
      .integer({ min: 10, max: 300 })
      .map((n) => json('normalization forms')('a' + '\u0301'.repeat(n))),
    fc
      .oneof(
        fc.constantFrom(...OTHER_SCRIPTS),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
      )
      .map(json('other scripts and emoji')),
    fc.constantFrom(...METACHARACTERS).map(json('metacharacters')),
    fc
      .tuple(fc.integer({ min: 14, max: 40 }), fc.boolean())
      .map(([d, arrays]) =>
        raw('deep JSON')(arrays ? nested(d, '[', ']') : nested(d, '{"a":', '}')),
      ),
    fc.constant(raw('deep JSON')(nested(2000, '[', ']'))),
    fc
      .tuple(fc.integer({ min: 100, max: 3000 }), fc.boolean())
      .map(([n, asObject]) =>
        json('wide JSON')(
          asObject
            ? Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
            : Array.from({ length: n }, (_, i) => i),
        ),
      ),
    fc
      .constantFrom(
        '{"__proto__":{"isAdmin":true}}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '[{"prototype":1}]',
        '{"a":{"__proto__":null}}',
      )
      .map(raw('prototype keys')),
  );
}

/** Names for a field the endpoint does not declare. */
export const extraFieldNames: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'isAdmin',
    'id',
    'role',
    'passwordHash',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    '__defineGetter__',
    '_csrf',
    '',
    'user\u0000name',
    'a\ud800',
    'x'.repeat(5_000),
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);

/** Whole bodies that are not what they say: malformed JSON, the wrong top-level type, garbage. */
export const hostileBodies: fc.Arbitrary<{ kind: string; body: Buffer }> = fc.oneof(
  fc
    .constantFrom(
      '{"username":"a",', // truncated
      '{"username":"a","password":"b",}', // trailing comma
      "{'username':'a'}",
      '{"username":NaN}',
      '{"username":Infinity}',
      'undefined',
      '{"a":1} {"b":2}',
      '{"a":1 // comment\n}',
      '',
      '   ',
      '\ufeff{"username":"a"}', // byte order mark
      '{"username":"a\\x41"}', // an escape JSON does not have
      '{"username":"\\ud800"}',
      '{"a":"\u0000"}',
      nested(5_000, '[', ']'),
    )
    .map((text) => ({ kind: 'malformed JSON', body: Buffer.from(text) })),
  fc
    .constantFrom(
      'null',
      '42',
      '"username"',
      'true',
      '[]',
      '[{"username":"a","password":"b"}]',
      '{}',
    )
    .map((text) => ({ kind: 'wrong top-level type', body: Buffer.from(text) })),
  fc
    .uint8Array({ minLength: 1, maxLength: 64 })
    .map((bytes) => ({ kind: 'binary garbage', body: Buffer.from(bytes) })),
  fc.constant({
    kind: 'binary garbage',
    body: Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]),
  }),
);
