import type { JsonValue } from './canonical-json.js';

/** "an array", "a string", "missing": the type of a JSON value, for messages. */
export function jsonTypeName(value: JsonValue | undefined): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
