/**
 * The committed report is rendered from committed figures: bench/REPORT.json (a full run's
 * result) gives bench/REPORT.md and its charts byte for byte. A change to the report's code that
 * changes its output fails here until the report is rendered again (`npm run bench -- --render
 * bench/REPORT.json`) or measured again (`npm run bench`).
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { PROJECT_ROOT } from '../cluster/paths.js';
import { isFullRun } from './options.js';
import { COMMITTED_RESULT, renderFiles } from './render.js';
import type { BenchResult } from './results.js';

const result = JSON.parse(readFileSync(COMMITTED_RESULT, 'utf8')) as BenchResult;

describe('the committed report', () => {
  it('comes from a full run', () => {
    expect(isFullRun(result.settings)).toBe(true);
  });

  it.each([...renderFiles(result)].map(([file, text]) => [relative(PROJECT_ROOT, file), text]))(
    '%s is what bench/REPORT.json renders',
    (file, text) => {
      expect(readFileSync(`${PROJECT_ROOT}/${file}`, 'utf8')).toBe(text);
    },
  );
});
