import { EXIT, UsageError, type ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { describeLocation, migrate, previewDown } from '../store.js';
import { writeLine } from '../render/printable.js';

export interface MigrateCommandOptions {
  /** Confirms `migrate down`, which drops chemflow's tables with their data. */
  yes?: boolean;
}

/** `chemflow migrate [up|down]`: applies (idempotently) or reverts the schema; `down` only with `--yes`. */
export async function migrateCommand(ctx: CommandContext, direction: string | undefined, options: MigrateCommandOptions = {}): Promise<ExitCode> {
  const dir = direction ?? 'up';
  if (dir !== 'up' && dir !== 'down') throw new UsageError(`Unknown migration direction "${dir}"`, 'use `chemflow migrate up` or `chemflow migrate down`');
  const where = describeLocation(ctx.db);
  if (dir === 'down' && options.yes !== true) throw new UsageError(await whatWouldBeLost(ctx.db, where), 'run `chemflow migrate down --yes` to go ahead.');
  const ran = await migrate(ctx.db, dir);
  const list = ran.length > 0 ? `: ${ran.join(', ')}` : '';
  writeLine(
    ctx.io.stdout,
    dir === 'up'
      ? `${ran.length} migration(s) applied${list}. The schema in ${where} is up to date.`
      : `${ran.length} migration(s) reverted${list}. The schema in ${where} is gone with its data (\`chemflow migrate up\` recreates it empty).`,
  );
  return EXIT.ok;
}

/** The refusal of an unconfirmed `migrate down`, naming every table and row it would delete. */
async function whatWouldBeLost(location: string, where: string): Promise<string> {
  const { migrations, tables } = await previewDown(location);
  if (migrations.length === 0) return `\`migrate down\` needs --yes (nothing to revert in ${where}: chemflow's schema is not there).`;
  const rows = tables.reduce((sum, t) => sum + t.rows, 0);
  return [
    `\`migrate down\` needs --yes: it reverts ${migrations.length} migration(s) in ${where} and deletes ${rows} row(s) for good:`,
    ...tables.map((t) => `  ${t.table}: ${t.rows} row(s)`),
  ].join('\n');
}
