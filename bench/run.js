// `npm run bench` entry point, after `tsc -p bench/tsconfig.json` has compiled the benchmarks and
// src/ into node_modules/.cache/chemflow-bench (run with --expose-gc so each sample starts collected).
import process from 'node:process';
import { URL } from 'node:url';
import { runBench } from '../node_modules/.cache/chemflow-bench/bench/main.js';

// Exit explicitly: a pool or timer left behind by a library must not keep the run alive.
process.exit(await runBench(process.argv.slice(2), new URL('./results.json', import.meta.url)));
