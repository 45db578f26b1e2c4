// @ts-check
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** What the replication core may use (src/replication/core.spec.ts reads the same file). */
const ioFree = JSON.parse(
  readFileSync(join(import.meta.dirname, 'src/replication/core/io-free.json'), 'utf8'),
);
const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      '.cluster/',
      'test/artifacts/',
      'bench/results/',
    ],
  },
  js.configs.recommended,
  // Type-aware and strict: floating promises, unsafe `any` flows, non-null assertions, conditions
  // that are always true, void values used as results.
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      // A Nest module is a decorated class with an empty body: the framework's idiom.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
      // A number renders one way in a template; `undefined`, `null`, objects and booleans, which
      // the rule is for, stay errors.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allowAny: false,
          allowBoolean: false,
          allowNullish: false,
          allowRegExp: false,
          allowNever: false,
        },
      ],
      'no-console': ['error', { allow: ['error', 'warn'] }],
      // An async method that implements a Promise-returning interface needs no await inside.
      '@typescript-eslint/require-await': 'off',
      // Callback APIs (express-session, passport) hand us errors typed `any`: reject with those.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
    },
  },
  {
    // Plain JavaScript has no types to check.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Browser scripts: the app's pages and the runner's dashboard.
    files: ['public/**/*.js', 'cluster/dashboard/page/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        location: 'readonly',
        URLSearchParams: 'readonly',
        EventSource: 'readonly',
        fetch: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
  },
  {
    // Plain Node scripts.
    files: ['scripts/**/*.mjs', 'test/support/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },
  {
    files: [
      '**/*.js',
      '**/*.mjs',
      'cluster/**/*.ts',
      'bench/**/*.ts',
      'docs/tooling/**/*.ts',
      'scripts/**',
      'src/database/migrate.ts',
    ],
    rules: { 'no-console': 'off' },
  },
  ...[1, 2].map((depth) => ({
    // The replication core is I/O-free: its state machines take messages and time and hand what
    // to send to the PeerLink they are given. It imports itself, zod and node:crypto (and, in its
    // specs, the test libraries), and no relative path that leaves core/; it touches no global
    // that reaches the world (timers, process, network, clocks, console). core.spec.ts checks the
    // same from the other side, over every module the core reaches.
    files: [depth === 1 ? 'src/replication/core/*.ts' : 'src/replication/core/*/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!\\.|${[...ioFree.packages, ...ioFree.specPackages].map((p) => `${escapeRegex(p)}$`).join('|')})`,
              message:
                'The replication core imports only zod and node:crypto: take I/O through PeerLink or CoreOptions.',
            },
            {
              // As many parent steps as the file is deep leave core/.
              regex: depth === 1 ? '(^|/)\\.\\.(/|$)' : '(^|/)\\.\\.(/.*)?/\\.\\.(/|$)',
              message:
                'The core is the inner layer: channel/, stores/ and the app import it, not the reverse.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...ioFree.worldGlobals.map((name) => ({
          name,
          message: 'The core does no I/O and reads no clock: time and logging come in CoreOptions.',
        })),
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportExpression', message: 'No dynamic import in the replication core.' },
      ],
    },
  })),
  prettier,
);
