import { EXIT, type ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { writeLine } from '../render/printable.js';
import { withStore } from '../store.js';
import { UiActions } from '../ui/actions.js';
import { isLoopback, newToken } from '../ui/auth.js';
import { DEFAULT_UI_HOST, DEFAULT_UI_PORT } from '../ui/defaults.js';
import { startUiServer } from '../ui/server.js';

export interface UiCommandOptions {
  port?: number;
  host?: string;
  readOnly?: boolean;
}

/**
 * `chemflow ui`: serves the web dashboard over the store until Ctrl-C or SIGTERM. Prints its address,
 * with the token that authorises actions (new at every start), on stdout.
 */
export async function uiCommand(ctx: CommandContext, options: UiCommandOptions): Promise<ExitCode> {
  const host = options.host ?? DEFAULT_UI_HOST;
  return withStore(ctx, async (store) => {
    const actions = new UiActions(store, ctx.io, { db: ctx.db, blobDir: ctx.blobDir, workDir: ctx.workDir });
    const server = await startUiServer({
      store,
      actions,
      host,
      port: options.port ?? DEFAULT_UI_PORT,
      token: newToken(),
      readOnly: options.readOnly === true,
      env: ctx.io.env,
    });
    // First Ctrl-C or SIGTERM: stop after the attempts in flight (as a worker does). Second: leave at once.
    let signals = 0;
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const onSignal = (): void => {
      signals += 1;
      if (signals > 1) process.exit(130);
      if (actions.runs > 0) writeLine(ctx.io.stderr, `Stopping after the current step of ${actions.runs} flow(s) run here (Ctrl-C again to leave at once).`);
      stop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    writeLine(ctx.io.stdout, server.url);
    if (!isLoopback(host)) writeLine(ctx.io.stderr, `Serving on ${host}: every request needs the token; anyone who has the address can act on your flows.`);
    if (store.kind === 'pglite')
      writeLine(ctx.io.stderr, 'The embedded database is held by this server while it runs: flows are resumed from its pages (stop it to use other commands).');
    if (options.readOnly === true) writeLine(ctx.io.stderr, 'Read-only: retry, cancel and resume are turned off.');
    try {
      await stopped;
      // No new action from here; the runs end before the store closes under them.
      await Promise.all([server.close(), actions.stop()]);
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    return EXIT.ok;
  }, { create: false });
}
