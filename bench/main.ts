// `npm run bench [-- --quick] [--json] [--only SECTION]`: every benchmark (or the ones named) in one run; a table (or, with --json, only
// the JSON document) on stdout, progress on stderr, and bench/results.json.
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cacheLookupBench } from './cache-lookup.js';
import { errorTimelineBench } from './error-timeline.js';
import { NativeUnavailableError, nativeBench } from './native.js';
import { commandsBench } from './commands.js';
import { graphsBench } from './graphs.js';
import { graphWorkersBench } from './graph-workers.js';
import { parseOptions, type BenchOptions } from './options.js';
import { serverFacts } from './pg-admin.js';
import { shardsBench } from './shards.js';
import { prequeueBench } from './prequeue.js';
import { PrequeueUnavailableError } from './prequeue-build.js';
import { queueBench } from './queue.js';
import { replayBench } from './replay.js';
import { renderTable, resultsDocument, summarise, type BenchRun, type RunContext } from './report.js';
import { throughputBench } from './throughput.js';
import { uiBench } from './ui.js';

/** Runs every benchmark; returns the exit code. `resultsFile` is bench/results.json in the work tree. */
export async function runBench(argv: readonly string[], resultsFile: URL): Promise<number> {
  try {
    return await run(parseOptions(argv), resultsFile);
  } catch (error) {
    process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

/** Runs the sections; 1 when a result check failed (the native comparison found a difference), else 0. */
async function run(options: BenchOptions, resultsFile: URL): Promise<number> {
  // Whatever a library prints must not spoil the JSON document: stdout is ours alone until the end.
  const stdout = process.stdout.write.bind(process.stdout);
  const toStderr: typeof process.stdout.write = process.stderr.write.bind(process.stderr);
  process.stdout.write = toStderr;
  const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadAverageBefore = loadavg()[0] ?? 0;
  const server = await serverFacts();
  const run: BenchRun = {};
  if (options.sections.has('throughput')) {
    log(`throughput: ${options.rounds} rounds of ${options.sampleMs} ms per meter`);
    run.throughput = await throughputBench(options, log);
  }
  if (options.sections.has('replay')) {
    log('replay of a 100,000-event flow');
    run.replay = await replayBench(options.replayRuns);
  }
  if (options.sections.has('errors')) {
    log('error timeline on 1,000,000 rows');
    run.errorTimeline = await errorTimelineBench(options.timelineQueries);
  }
  if (options.sections.has('queue')) {
    log(`flow queue: ${options.historyFlows.toLocaleString('en-US')} finished flows; workers ${options.workerCounts.join(', ')}`);
    run.queue = await queueBench(options, log);
  }
  if (options.sections.has('prequeue')) {
    log(`workers and sequential engine, today's against the engine before the flow queue; workers ${options.workerCounts.join(', ')}`);
    try {
      run.prequeue = await prequeueBench({ ...options, root: new URL('../', resultsFile) }, log);
    } catch (error) {
      // Needs the repository's history (a build of an older commit): skipped, and said, unless asked for by name.
      if (!(error instanceof PrequeueUnavailableError) || options.asked.has('prequeue')) throw error;
      log(`prequeue: SKIPPED: ${error.message}`);
    }
  }
  if (options.sections.has('cache')) {
    log(`step cache lookup: ${options.cacheEntries.toLocaleString('en-US')} entries vs none, ${options.cacheLookups} lookups each`);
    run.cacheLookup = await cacheLookupBench({ entries: options.cacheEntries, lookups: options.cacheLookups, rounds: options.rounds }, log);
  }
  if (options.sections.has('shards')) {
    log(`sharded map steps: ${options.shardMolecules.toLocaleString('en-US')} molecules, ${options.shardRounds} round(s), chemflow worker processes`);
    // The work tree is where bench/results.json goes: its CLI and library, never the shared cache's checkout.
    run.shards = await shardsBench({ root: new URL('../', resultsFile), molecules: options.shardMolecules, rounds: options.shardRounds }, log);
  }
  if (options.sections.has('native')) {
    const libraries = [fileURLToPath(new URL('../examples/screening/molecules.csv', resultsFile))];
    if (options.library !== undefined) {
      if (existsSync(options.library)) libraries.push(options.library);
      else log(`native: ${options.library} is missing, so only the example's library (make it: npx tsx examples/screening/make-library.ts --size 1000000 --out ${options.library})`);
    }
    try {
      run.native = await nativeBench(
        // 2 rounds on the example's library (1 with --quick), 1 on a larger one; 2 cores for both sides
        {
          root: new URL('../', resultsFile),
          libraries,
          rounds: (file) => (file === libraries[0] && !options.quick ? 2 : 1),
          exampleFlow: (file) => file === libraries[0] || options.libraryExample,
          cores: 2,
        },
        log,
      );
    } catch (error) {
      // Needs /usr/bin/python3 with RDKit: skipped, and said, except on CI (where .ci/run installs it).
      if (!(error instanceof NativeUnavailableError) || process.env.CI !== undefined) throw error;
      log(`native: SKIPPED: ${error.message}`);
    }
  }
  if (options.sections.has('commands')) {
    log(`command steps: ${options.rounds} rounds of 20 \`true\` steps against 20 JavaScript steps, and 1,000 small files staged`);
    run.commands = await commandsBench({ rounds: options.rounds, steps: 20, files: 1000 }, log);
  }
  if (options.sections.has('graphs')) {
    log(`graphs: a fan-out of 8 branches of 500 ms at --concurrency 1, 2, 4, 100 steps as a graph against a list (${options.rounds} rounds), and the fan-out on 1, 2, 4 worker processes`);
    run.graphs = await graphsBench({ rounds: options.rounds }, log);
    run.graphs.workers = await graphWorkersBench({ rounds: Math.min(options.rounds, 3), root: new URL('../', resultsFile) }, log);
  }
  if (options.sections.has('ui')) {
    log(`web dashboard: first flows page with ${options.historyFlows.toLocaleString('en-US')} flows, and a 10,000-event flow page`);
    run.ui = await uiBench(options.historyFlows, options.quick ? 10 : 30, log);
  }
  const context: RunContext = {
    mode: options.quick ? 'quick' : 'full',
    startedAt,
    seconds: Math.round((performance.now() - started) / 1000),
    rounds: options.rounds,
    sampleMs: options.sampleMs,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      node: process.version,
      loadAverageBefore,
      loadAverageAfter: loadavg()[0] ?? 0,
    },
    server,
  };
  writeFileSync(resultsFile, `${JSON.stringify(resultsDocument(run, context), null, 2)}\n`);
  log(`done in ${context.seconds} s; wrote bench/results.json`);
  stdout(options.json ? `${JSON.stringify(summarise(run))}\n` : renderTable(run, context));
  if (run.native?.ok === false) {
    log('native: chemflow and native RDKit disagree (see above): FAILED');
    return 1;
  }
  return 0;
}
