#!/usr/bin/env node
import process from 'node:process';
import { main } from '../dist/cli/main.js';

// Exit explicitly: a user's step module may leave timers or sockets open after its flow ended.
process.exit(await main(process.argv));
