#!/usr/bin/env node
import process from 'node:process';
import { flushStdio, tolerateClosedReaders } from '../dist/cli/flush.js';
import { main } from '../dist/cli/main.js';

tolerateClosedReaders();
process.exitCode = await main(process.argv);
// Output queued for a pipe is lost on exit: let it drain first (`chemflow flows --json | jq`).
await flushStdio();
// Exit explicitly: a user's step module may leave timers or sockets open after its flow ended.
process.exit();
