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
  return write(value, undefined, undefined, new Set());
}

/**
 * Where a value sits, as the chain of keys from the root. The path's text (`$.a[1].b`) is built only
 * for an error: building it for every member cost more than writing the member.
 */
interface PathNode {
  readonly parent: PathNode | undefined;
  readonly key: string | number;
}

function pathText(parent: PathNode | undefined, key: string | number | undefined): string {
  const keys: (string | number)[] = key === undefined ? [] : [key];
  for (let node = parent; node !== undefined; node = node.parent) keys.push(node.key);
  return `$${keys
    .reverse()
    .map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`))
    .join('')}`;
}

/** `value` is `parent`'s member `key` (both undefined at the root). */
function write(value: unknown, parent: PathNode | undefined, key: string | number | undefined, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new NonCanonicalValueError(pathText(parent, key), `${value} is not a JSON number`);
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      return writeContainer(value, key === undefined ? parent : { parent, key }, ancestors);
    default:
      throw new NonCanonicalValueError(pathText(parent, key), `${typeof value} is not a JSON value`);
  }
}

function writeContainer(value: object, at: PathNode | undefined, ancestors: Set<object>): string {
  if (ancestors.has(value)) throw new NonCanonicalValueError(pathText(at, undefined), 'circular reference');
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return writeArray(value, at, ancestors);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new NonCanonicalValueError(pathText(at, undefined), `${value.constructor.name} is not a plain object`);
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    let text = '{';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      text += `${i === 0 ? '' : ','}${JSON.stringify(key)}:${write(record[key], at, key, ancestors)}`;
    }
    return `${text}}`;
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
function writeArray(value: readonly unknown[], at: PathNode | undefined, ancestors: Set<object>): string {
  let text = '[';
  for (let i = 0; i < value.length; i++) {
    if (!Object.prototype.hasOwnProperty.call(value, i))
      throw new NonCanonicalValueError(pathText(at, i), 'hole in a sparse array (write null explicitly)');
    text += `${i === 0 ? '' : ','}${write(value[i], at, i, ancestors)}`;
  }
  return `${text}]`;
}
