import { canonicalJson } from './canonical-json.js';
import { NonCanonicalValueError, UnstorableValueError } from './errors.js';

/**
 * Strings PostgreSQL refuses: `text` and `jsonb` cannot hold U+0000, and `jsonb` rejects the `\udXXX`
 * escape of a UTF-16 surrogate that is not half of a pair (what `JSON.stringify` writes for one). The
 * memory store could keep them, but every store must accept the same values, so they are refused (or
 * replaced) before any store sees them. The regex works on code units on purpose (no `u` flag).
 */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what must be found
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/** What takes the place of an unstorable character: visible, and never mistaken for data. */
export const REPLACEMENT_CHARACTER = '\ufffd';

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** `text` with every U+0000 and lone surrogate replaced by U+FFFD. */
export function storableText(text: string): string {
  return isStorableText(text) ? text : text.replace(UNSTORABLE_ALL, REPLACEMENT_CHARACTER);
}

/** Why a string cannot be stored, in words a step author can act on. */
export function unstorableReason(text: string): string | undefined {
  const found = UNSTORABLE.exec(text)?.[0];
  if (found === undefined) return undefined;
  const unit = `U+${found.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  return found === '\u0000'
    ? 'contains U+0000, which PostgreSQL cannot store'
    : `contains a lone UTF-16 surrogate (${unit}), which PostgreSQL cannot store`;
}

/** `$.a[2].b`, as `canonicalJson` names paths. */
function child(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : `${path}.${key}`;
}

/**
 * Throws `UnstorableValueError` naming the first string (value or key) of a JSON value that no store
 * accepts. Only strings are looked at: call `canonicalJson` for everything else JSON cannot carry.
 */
export function assertStorable(value: unknown, path = '$'): void {
  // The common value is storable: checked without building a path per member; the path is named
  // only for a value that fails.
  if (!isStorableValue(value)) findUnstorable(value, path);
}

function isStorableValue(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) return value.every(isStorableValue);
  for (const key of Object.keys(value)) if (!isStorableText(key) || !isStorableValue((value as Record<string, unknown>)[key])) return false;
  return true;
}

function findUnstorable(value: unknown, path: string): void {
  if (typeof value === 'string') {
    const reason = unstorableReason(value);
    if (reason !== undefined) throw new UnstorableValueError(path, `it ${reason}`);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    value.forEach((item: unknown, i) => findUnstorable(item, child(path, i)));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const reason = unstorableReason(key);
    if (reason !== undefined) throw new UnstorableValueError(child(path, storableText(key)), `its key ${reason}`);
    findUnstorable(item, child(path, key));
  }
}

/** A value made storable, and what was changed: path → the original string, JSON-escaped (ASCII). */
export interface MadeStorable<T> {
  value: T;
  originals: Record<string, string>;
}

/**
 * Replaces every unstorable character in the strings and keys of a JSON value with U+FFFD. Used where
 * refusing is not an option (the record of a failure must always commit); `originals` keeps what was
 * there, escaped so it can be stored, for the error's `details`.
 */
export function makeStorable<T>(value: T, path = '$', originals: Record<string, string> = {}): MadeStorable<T> {
  return { value: rewrite(value, path, originals) as T, originals };
}

function rewrite(value: unknown, path: string, originals: Record<string, string>): unknown {
  if (typeof value === 'string') {
    if (isStorableText(value)) return value;
    originals[path] = JSON.stringify(value);
    return storableText(value);
  }
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item: unknown, i) => rewrite(item, child(path, i), originals));
  const entries = Object.entries(value).map(([key, item]): [string, unknown] => {
    if (isStorableText(key)) return [key, rewrite(item, child(path, key), originals)];
    const safeKey = storableText(key);
    originals[`${child(path, safeKey)} (key)`] = JSON.stringify(key);
    return [safeKey, rewrite(item, child(path, safeKey), originals)];
  });
  return Object.fromEntries(entries);
}

/**
 * What a store checks before it writes a batch, so every store refuses the same values with the same
 * typed error (and writes nothing) instead of PostgreSQL failing mid-statement and memory keeping them.
 * Returns the error rather than throwing it: stores reject with it.
 */
export function unstorableInBatch(
  events: readonly object[],
  artifacts: readonly object[] = [],
): UnstorableValueError | undefined {
  try {
    events.forEach((event, i) => assertStorable(event, `events[${i}]`));
    artifacts.forEach((artifact, i) => assertStorable(artifact, `artifacts[${i}]`));
    return undefined;
  } catch (error) {
    if (error instanceof UnstorableValueError) return error;
    throw error;
  }
}

/**
 * Why a value cannot be hashed and stored as it is (not canonical JSON, or text no store accepts), or
 * undefined when it can: the one check of params and signal data.
 */
export function storableJsonProblem(value: unknown): NonCanonicalValueError | UnstorableValueError | undefined {
  try {
    canonicalJson(value);
    assertStorable(value);
    return undefined;
  } catch (error) {
    if (error instanceof NonCanonicalValueError || error instanceof UnstorableValueError) return error;
    throw error;
  }
}
