import { EXIT, type ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { writeLine } from '../render/printable.js';
import { withStore } from '../store.js';
import { UiActions } from '../ui/actions.js';
import { isLoopback, newToken } from '../ui/auth.js';
import { startUiServer } from '../ui/server.js';

export interface UiCommandOptions {
  port?: number;
  host?: string;
  readOnly?: boolean;
}

export const DEFAULT_UI_PORT = 4173;
export const DEFAULT_UI_HOST = '127.0.0.1';

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
    const stopped = new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    writeLine(ctx.io.stdout, server.url);
    if (!isLoopback(host)) writeLine(ctx.io.stderr, `Serving on ${host}: every request needs the token; anyone who has the address can act on your flows.`);
    if (store.kind === 'pglite')
      writeLine(ctx.io.stderr, 'The embedded database is held by this server while it runs: flows are resumed from its pages (stop it to use other commands).');
    if (options.readOnly === true) writeLine(ctx.io.stderr, 'Read-only: retry, cancel and resume are turned off.');
    await stopped;
    await server.close();
    return EXIT.ok;
  }, { create: false });
}
