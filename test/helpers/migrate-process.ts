// Run as a separate process (`node --import tsx test/helpers/migrate-process.ts <schema>`), so the
// concurrent-migration test races two real processes, not two promises in one.
import { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import { migrate } from '../../src/stores/sql/migrate.js';
import { TEST_PG_URL } from './pg-url.js';

const schema = process.argv[2];
if (schema === undefined) throw new Error('usage: migrate-process.ts <schema>');
const executor = new PgExecutor({ connectionString: TEST_PG_URL, schema });
try {
  const result = await migrate(executor, 'up');
  process.stdout.write(JSON.stringify(result));
} finally {
  await executor.close();
}
