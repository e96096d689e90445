export interface BenchOptions {
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
}

const USAGE = `usage: npm run bench [-- --quick] [--json] [--rounds N]
  --quick     3 rounds of 1 s samples (under two minutes in all); default 5 rounds of 3 s
  --json      print only the JSON document on stdout
  --rounds N  rounds of the throughput measurements`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    quick,
    json: argv.includes('--json'),
    rounds: quick ? 3 : 5,
    sampleMs: quick ? 1_000 : 3_000,
    warmupMs: quick ? 300 : 1_000,
    replayRuns: quick ? 3 : 7,
    timelineQueries: quick ? 200 : 1_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick' || arg === '--json') continue;
    if (arg === '--rounds') {
      const rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds wants a positive integer\n${USAGE}`);
      options.rounds = rounds;
      continue;
    }
    throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return options;
}
