/**
 * `npm run bench`: measures every profile and peer and writes bench/results/<timestamp>.json,
 * the report and the chart. See USAGE in options.ts for the flags.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defined } from '../src/common/defined.js';
import { isFullRun, parseOptions, USAGE, UsageError, type BenchOptions } from './options.js';
import { COMMITTED_RESULT, RESULTS_DIR, renderFiles, stamp } from './render.js';
import { renderSpread } from './spread.js';
import type { BenchResult } from './results.js';
import { interruptRun, runBench, stopEverything } from './run.js';
import { evaluateTargets, verdict } from './targets.js';

function progress(): (line: string) => void {
  const t0 = Date.now();
  return (line) => {
    console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}`);
  };
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const say = progress();
  if (options.compare) {
    const runs: BenchResult[] = [];
    for (const f of options.compare) {
      try {
        runs.push(JSON.parse(await readFile(f, 'utf8')) as BenchResult);
      } catch (error) {
        console.error(`bench: --compare: cannot read ${f}: ${(error as Error).message}`);
        return 2;
      }
    }
    console.log(renderSpread(runs));
    return 0;
  }
  if (options.render) {
    const result = JSON.parse(await readFile(options.render, 'utf8')) as BenchResult;
    return writeReport(result, [], result.settings.quick, say);
  }
  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    interrupt.abort();
    say('interrupted: stopping every topology …');
    void interruptRun().then(() => process.exit(130));
  });

  const o = options;
  say(
    `benchmark: ${[...o.profiles, ...o.peers].join(', ')}; ${o.clients} clients, ` +
      `${o.rounds} × ${o.durationSeconds} s whoami runs${o.quick ? ' (quick)' : ''}`,
  );
  const { result, failures } = await runBench(o, say);
  if (interrupt.signal.aborted) return 130;
  await mkdir(RESULTS_DIR, { recursive: true });
  const jsonFile = join(RESULTS_DIR, `${stamp(result.startedAt)}.json`);
  const json = JSON.stringify(result, null, 2) + '\n';
  await writeFile(jsonFile, json);
  say(`results: ${jsonFile}`);
  // A full run replaces the committed report: its figures go with it, to render it again.
  if (isFullRun(result.settings)) {
    await writeFile(COMMITTED_RESULT, json);
    say(`results: ${COMMITTED_RESULT} (the committed report's source)`);
  }
  return writeReport(result, failures, o.quick, say);
}

/** Report and charts from a result; the exit code for what it says. */
async function writeReport(
  result: BenchResult,
  failures: string[],
  quick: boolean,
  say: (line: string) => void,
): Promise<number> {
  const files = renderFiles(result);
  await mkdir(RESULTS_DIR, { recursive: true });
  for (const [file, text] of files) await writeFile(file, text);
  const reportFile = defined(
    [...files.keys()].find((f) => f.endsWith('.md')),
    'the report among the rendered files',
  );
  const targets = evaluateTargets(result);
  console.log('');
  for (const t of targets) {
    console.log(`${verdict(t).padEnd(12)} ${t.id} ${t.title} ${t.threshold}: ${t.figure}`);
  }
  console.log('');
  say(`report:  ${reportFile}`);
  say(`charts:  ${[...files.keys()].filter((f) => f.endsWith('.svg')).join(', ')}`);
  if (failures.length) {
    console.error(`bench: ${failures.length} measurement(s) broke:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  const failed = targets.filter((t) => t.pass === false).length;
  if (failed && !quick) {
    console.error(`bench: ${failed} target(s) FAIL (see ${reportFile})`);
    return 3;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(`bench: ${(error as Error).stack ?? String(error)}`);
    await stopEverything();
    process.exit(1);
  },
);
