import { EXIT, UsageError, type ExitCode } from '../cli-error.js';
import type { CommandContext } from '../context.js';
import { describeLocation, migrate } from '../store.js';

/** `chemflow migrate [up|down]`: applies (idempotently) or reverts the schema. */
export async function migrateCommand(ctx: CommandContext, direction: string | undefined): Promise<ExitCode> {
  const dir = direction ?? 'up';
  if (dir !== 'up' && dir !== 'down') throw new UsageError(`Unknown migration direction "${dir}"`, 'use `chemflow migrate up` or `chemflow migrate down`');
  const ran = await migrate(ctx.db, dir);
  const where = describeLocation(ctx.db);
  const list = ran.length > 0 ? `: ${ran.join(', ')}` : '';
  ctx.io.stdout.write(
    dir === 'up'
      ? `${ran.length} migration(s) applied${list}. The schema in ${where} is up to date.\n`
      : `${ran.length} migration(s) reverted${list}. The schema in ${where} is gone with its data (\`chemflow migrate up\` recreates it empty).\n`,
  );
  return EXIT.ok;
}
