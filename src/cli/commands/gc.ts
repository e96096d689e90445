import { collectGarbage, type GarbageReport } from '../../stores/collect-garbage.js';
import { EXIT, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { withStore } from '../store.js';
import { workRootOf } from '../work-root.js';

export interface GcCommandOptions extends OutputOptions {
  dryRun?: boolean;
}

/** `chemflow gc --json`: what was removed (or would be, with `--dry-run`). */
export type GcReport = GarbageReport;

/**
 * `chemflow gc`: removes the chunks and file bytes no stored artifact names (left by attempts that
 * failed after writing them) and stale partial writes of a blob directory. Artifacts, the event log
 * and the error rows are never touched (docs/data.md).
 */
export async function gcCommand(ctx: CommandContext, options: GcCommandOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const report: GcReport = await collectGarbage(store, { dryRun: options.dryRun === true, workRoot: workRootOf(ctx) });
    if (options.json === true) printJson(ctx, report);
    else {
      const verb = report.dryRun ? 'Would remove' : 'Removed';
      ctx.io.stdout.write(
        `${verb} ${report.blobs.length} blob(s) no artifact names and ${report.tempFiles.length} stale partial write(s) from ${store.blobs.location}\n`,
      );
      ctx.io.stdout.write(`${verb} ${report.workDirs.length} kept command working director${report.workDirs.length === 1 ? 'y' : 'ies'} of ended flows from ${workRootOf(ctx)}\n`);
    }
    return EXIT.ok;
  });
}
