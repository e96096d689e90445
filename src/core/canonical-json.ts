import { NonCanonicalValueError } from './errors.js';

/** A value that canonical JSON can represent. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Canonical JSON in the spirit of RFC 8785: object keys sorted by code unit, no whitespace, numbers in
 * the ECMAScript shortest round-trip form (`-0` becomes `0`). Anything JSON cannot carry faithfully
 * (NaN, Infinity, undefined, functions, symbols, bigint, cycles, class instances, holes of sparse
 * arrays) is rejected with the path of the offending value, because a silently dropped field would make
 * two different inputs hash the same.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$', new Set());
}

function write(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new NonCanonicalValueError(path, `${value} is not a JSON number`);
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      return writeContainer(value, path, ancestors);
    default:
      throw new NonCanonicalValueError(path, `${typeof value} is not a JSON value`);
  }
}

function writeContainer(value: object, path: string, ancestors: Set<object>): string {
  if (ancestors.has(value)) throw new NonCanonicalValueError(path, 'circular reference');
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return writeArray(value, path, ancestors);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new NonCanonicalValueError(path, `${value.constructor.name} is not a plain object`);
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    const members = keys.map((key) => `${JSON.stringify(key)}:${write(record[key], `${path}.${key}`, ancestors)}`);
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}

/**
 * A hole (`[1, , 3]`) is rejected rather than written as `null` as `JSON.stringify` does: the payload a
 * step returned must be the one the next step reads back from any store, and a hole read from memory
 * (skipped by `map`, `in` is false) is not the `null` read back from PostgreSQL. `Array#map` skips holes,
 * so walk the indexes.
 */
function writeArray(value: readonly unknown[], path: string, ancestors: Set<object>): string {
  const items: string[] = [];
  for (let i = 0; i < value.length; i++) {
    if (!Object.prototype.hasOwnProperty.call(value, i))
      throw new NonCanonicalValueError(`${path}[${i}]`, 'hole in a sparse array (write null explicitly)');
    items.push(write(value[i], `${path}[${i}]`, ancestors));
  }
  return `[${items.join(',')}]`;
}
