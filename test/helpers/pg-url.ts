/** The PostgreSQL server the integration tests use (override with CHEMFLOW_TEST_PG_URL). */
export const TEST_PG_URL = process.env.CHEMFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
