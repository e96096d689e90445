export const SECTIONS = ['throughput', 'replay', 'errors', 'queue', 'prequeue', 'cache', 'shards', 'native', 'commands', 'graphs', 'ui'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  /** The benchmarks to run (`--only`, repeatable); all by default. */
  sections: ReadonlySet<Section>;
  /** Sections named with `--only`: one that cannot run then fails the run instead of being skipped. */
  asked: ReadonlySet<Section>;
  /** Shorter samples and fewer rounds: the whole run in under two minutes. */
  quick: boolean;
  /** Print only the JSON document on stdout (progress still goes to stderr). */
  json: boolean;
  /** Rounds of the interleaved throughput measurements (medians are taken over them). */
  rounds: number;
  /** Length of one throughput sample. */
  sampleMs: number;
  /** Untimed warm-up of every meter before the first round. */
  warmupMs: number;
  /** Rebuilds of the 100,000-event flow per store. */
  replayRuns: number;
  /** getErrorTimeline calls timed on the 1,000,000-row table. */
  timelineQueries: number;
  /** Finished flows bulk-loaded for the queue's idle and submit-to-start measurements. */
  historyFlows: number;
  /** Idle looks timed per schema (spread over the rounds). */
  idleLooks: number;
  /** Flows submitted one by one per schema to time submit-to-start (spread over the rounds). */
  submissions: number;
  /** Finished flows bulk-loaded under both versions' workers for the second half of `prequeue`. */
  prequeueHistory: number;
  /** Flows per round of the worker anatomy (the prequeue section's last part). */
  anatomyFlows: number;
  /** How many FlowWorkers run side by side in each steps/s row. */
  workerCounts: number[];
  /** Finished-step cache entries bulk-loaded for the step cache lookup (1,000,000 by default). */
  cacheEntries: number;
  /** Cache entries looked up per schema (spread over the rounds). */
  cacheLookups: number;
  /** Molecules of examples/screening/molecules.csv screened per sharded run (the first ones). */
  shardMolecules: number;
  /** Rounds of the sharded runs (each round runs every configuration once). */
  shardRounds: number;
  /**
   * The larger library of the native comparison, screened after examples/screening/molecules.csv when
   * the file exists (`--library FILE`; default /tmp/screen-1m.csv, not with --quick).
   */
  library: string | undefined;
  /** Whether the example's WebAssembly flow runs on the larger library too (`--library-example`). */
  libraryExample: boolean;
}

const USAGE = `usage: npm run bench [-- --quick] [--json] [--rounds N] [--only SECTION]... [--history N] [--molecules N] [--prequeue-history N] [--library FILE] [--library-example]
  --quick         3 rounds of 1 s samples, 100,000 finished flows for the queue, 100,000 cache
                  entries for the step cache lookup and one round of sharded runs on 10,000 molecules
                  (a few minutes in all); default 5 rounds of 3 s, 1,000,000 finished flows,
                  1,000,000 cache entries and two rounds on 20,000 molecules
  --json          print only the JSON document on stdout
  --rounds N      rounds of the throughput measurements
  --only SECTION  run only this benchmark (repeatable): ${SECTIONS.join(', ')}
  --history N     finished flows bulk-loaded for the queue's idle measurements
  --molecules N   molecules screened per sharded run (the first N of examples/screening)
  --prequeue-history N  finished flows under both versions' workers in prequeue's second half
                  (default 100,000; 20,000 with --quick)
  --library FILE  a larger name,smiles CSV for the native comparison, after the example's 56,694
                  molecules (default /tmp/screen-1m.csv when it exists, none with --quick; make it
                  with examples/screening/make-library.ts --size 1000000 --out FILE); on it the
                  script, its 1-process run and the native command step flow are timed
  --library-example  the example's WebAssembly flow on the larger library too (about 25 minutes
                  on 1,000,000 molecules on 2 cores)`;

function positiveInteger(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} wants a positive integer\n${USAGE}`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    sections: new Set(SECTIONS),
    asked: new Set(),
    quick,
    json: argv.includes('--json'),
    rounds: quick ? 3 : 5,
    sampleMs: quick ? 1_000 : 3_000,
    warmupMs: quick ? 300 : 1_000,
    replayRuns: quick ? 3 : 7,
    timelineQueries: quick ? 200 : 1_000,
    historyFlows: quick ? 100_000 : 1_000_000,
    idleLooks: quick ? 300 : 1_500,
    submissions: quick ? 30 : 60,
    workerCounts: [1, 2, 4],
    // 100,000 finished flows made every pass of the old worker cost ~0.5 s.
    prequeueHistory: quick ? 20_000 : 100_000,
    anatomyFlows: quick ? 300 : 1_000,
    cacheEntries: quick ? 100_000 : 1_000_000,
    cacheLookups: 1_000,
    // 10 and 20 shards of 1,000: split evenly between 2 workers. Quick: 4 runs in under 2 minutes.
    shardMolecules: quick ? 10_000 : 20_000,
    shardRounds: quick ? 1 : 2,
    library: quick ? undefined : '/tmp/screen-1m.csv',
    libraryExample: false,
  };
  const only = new Set<Section>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick' || arg === '--json') continue;
    if (arg === '--rounds') {
      options.rounds = positiveInteger(arg, argv[++i]);
      continue;
    }
    if (arg === '--history') {
      options.historyFlows = positiveInteger(arg, argv[++i]);
      continue;
    }
    if (arg === '--prequeue-history') {
      options.prequeueHistory = positiveInteger(arg, argv[++i]);
      continue;
    }
    if (arg === '--molecules') {
      options.shardMolecules = positiveInteger(arg, argv[++i]);
      continue;
    }
    if (arg === '--library') {
      const file = argv[++i];
      if (file === undefined || file.startsWith('--')) throw new Error(`--library wants a file\n${USAGE}`);
      options.library = file;
      continue;
    }
    if (arg === '--library-example') {
      options.libraryExample = true;
      continue;
    }
    if (arg === '--only') {
      const section = argv[++i];
      if (!SECTIONS.some((s) => s === section)) throw new Error(`--only wants one of ${SECTIONS.join(', ')}\n${USAGE}`);
      only.add(section as Section);
      continue;
    }
    throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  if (only.size > 0) {
    options.sections = only;
    options.asked = only;
  }
  return options;
}
