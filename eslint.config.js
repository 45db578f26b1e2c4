// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

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
  // Type-aware: floating promises, misused promises, unsafe `any` flows, awaiting non-promises.
  ...tseslint.configs.recommendedTypeChecked,
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
    files: ['scripts/**/*.mjs'],
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
  {
    // The replication core is I/O-free: its state machines take messages and time and hand what
    // to send to the PeerLink they are given. No socket, thread, timer, file or process module,
    // no timer of its own, and nothing from the layers around it (src/replication/core.spec.ts
    // checks the same from the other side: every module the core reaches, transitively).
    files: ['src/replication/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(node:)?(net|tls|http|https|http2|dgram|dns|fs|child_process|cluster|worker_threads|timers|perf_hooks|process|os)(/.*)?$',
              message: 'The replication core does no I/O: take it through PeerLink or CoreOptions.',
            },
            {
              regex: '^(ws|express|express-session|@nestjs/.*|redis|pg|typeorm)$',
              message: 'The replication core does no I/O and knows no framework.',
            },
            {
              regex:
                '^\\.\\./(\\.\\./)*(channel|stores|peer-backend|replication\\.config|session|database)(/|\\.|$)',
              message:
                'The core is the inner layer: channel/, stores/ and the app import it, not the reverse.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval'].map(
          (name) => ({ name, message: 'The core takes time from CoreOptions (now, sleep).' }),
        ),
      ],
    },
  },
  prettier,
);
