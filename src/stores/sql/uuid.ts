const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Flow ids are UUIDs in the database; any other id names no stored flow. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
