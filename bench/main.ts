// `npm run bench [-- --quick] [--json] [--only SECTION]`: every benchmark (or the ones named) in one run; a table (or, with --json, only
// the JSON document) on stdout, progress on stderr, and bench/results.json.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { cacheLookupBench } from './cache-lookup.js';
import { errorTimelineBench } from './error-timeline.js';
import { parseOptions, type BenchOptions } from './options.js';
import { serverFacts } from './pg-admin.js';
import { shardsBench } from './shards.js';
import { prequeueBench } from './prequeue.js';
import { PrequeueUnavailableError } from './prequeue-build.js';
import { queueBench } from './queue.js';
import { replayBench } from './replay.js';
import { renderTable, resultsDocument, summarise, type BenchRun, type RunContext } from './report.js';
import { throughputBench } from './throughput.js';

/** Runs every benchmark; returns the exit code. `resultsFile` is bench/results.json in the work tree. */
export async function runBench(argv: readonly string[], resultsFile: URL): Promise<number> {
  try {
    await run(parseOptions(argv), resultsFile);
    return 0;
  } catch (error) {
    process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

async function run(options: BenchOptions, resultsFile: URL): Promise<void> {
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
}
