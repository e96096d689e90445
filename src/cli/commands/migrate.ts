import { EXIT, UsageError, type ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { describeLocation, migrate } from '../store.js';

/** `chemflow migrate [up|down]`: applies (idempotently) or reverts the schema. */
export async function migrateCommand(ctx: CommandContext, direction: string | undefined): Promise<ExitCode> {
  const dir = direction ?? 'up';
  if (dir !== 'up' && dir !== 'down') throw new UsageError(`Unknown migration direction "${dir}"`, 'use `chemflow migrate up` or `chemflow migrate down`');
  await migrate(ctx.db, dir);
  ctx.io.stdout.write(
    dir === 'up'
      ? `Database schema is up to date in ${describeLocation(ctx.db)}.\n`
      : `Database schema removed from ${describeLocation(ctx.db)} (its data is gone; \`chemflow migrate up\` recreates an empty schema).\n`,
  );
  return EXIT.ok;
}
