import type { z } from 'zod';
import { KNOWN_KEYS } from './schema.js';

export type DocPath = readonly PropertyKey[];

/** `['steps', 1, 'retry', 'maxRetries']` → `steps[1].retry.maxRetries` */
export function formatPath(path: DocPath): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}

/** A short, readable rendering of a value found in a file. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

/**
 * Turns one zod issue into "expected ..., got ..." words. `knownKeys` lists the keys allowed at a path
 * of the validated value; the default knows the flow file's own schema, and a step's params pass none.
 */
export function issueText(issue: z.core.$ZodIssue, knownKeys: (path: DocPath) => readonly string[] | undefined = knownKeysAt): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return input === undefined ? `is required (expected ${expected})` : `expected ${expected}, got ${describeValue(input)}`;
    }
    case 'too_small':
      if (issue.origin === 'array') return `expected at least ${String(issue.minimum)} item(s)`;
      if (issue.origin === 'string') return 'expected a non-empty string';
      return `expected a number ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}, got ${describeValue(input)}`;
    case 'too_big':
      return `expected a number ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}, got ${describeValue(input)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(input)}`;
    case 'invalid_union': {
      const { discriminator, options } = issue as { discriminator?: string; options?: unknown[] };
      if (discriminator !== undefined && options !== undefined) {
        const found = (input as Record<string, unknown> | undefined)?.[discriminator];
        return `expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}, got ${describeValue(found)}`;
      }
      return issue.message;
    }
    case 'unrecognized_keys': {
      const known = knownKeys(issue.path);
      const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}${known ? `; expected only ${known.join(', ')}` : ''}`;
    }
    case 'invalid_format':
      return issue.message;
    default:
      return issue.message;
  }
}

function knownKeysAt(path: DocPath): readonly string[] | undefined {
  const last = path[path.length - 1];
  if (path.length === 0) return KNOWN_KEYS.flow;
  if (path.length === 2 && path[0] === 'steps') return KNOWN_KEYS.step;
  if (last === 'retry') return KNOWN_KEYS.retry;
  if (last === 'backoff') return KNOWN_KEYS.backoff;
  if (last === 'map' && path.length === 3) return KNOWN_KEYS.map;
  if (last === 'when' && path.length === 3) return KNOWN_KEYS.when;
  if (last === 'resources' && path.length === 3) return KNOWN_KEYS.resources;
  return undefined;
}
