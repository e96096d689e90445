import { canonicalJson, type JsonValue } from './canonical-json.js';

/** How a `when` compares the value it finds with its own `value`. */
export type ConditionOp = '==' | '!=' | '>' | '>=' | '<' | '<=' | 'exists';
export const CONDITION_OPS: readonly ConditionOp[] = ['==', '!=', '>', '>=', '<', '<=', 'exists'];

/**
 * `when` of a step: it runs only when the output of an upstream step satisfies this, and is recorded
 * Skipped otherwise. Plain data, so it is part of the definition hash and can never run code.
 */
export interface Condition {
  /** The step whose output is read: one of the step's needs, direct or indirect. */
  readonly step: string;
  /** Which output of that step (its name, as `step.output` names it); null: its only output. */
  readonly output: string | null;
  /** A JSON path into that output's payload: `$`, then `.name`, `["name"]` or `[index]` segments. */
  readonly path: string;
  readonly op: ConditionOp;
  /** What the value found is compared with; absent for `exists`. */
  readonly value?: JsonValue;
}

/** One step of a parsed path: an object key or an array index. */
export type PathSegment = string | number;

/**
 * The segments of a JSON path (`$.a.b[0]["c d"]`), or a problem saying where it went wrong. Only
 * plain member and index access: no wildcards, filters or recursion, so a path selects at most one value.
 */
export function parsePath(path: string): { ok: true; segments: PathSegment[] } | { ok: false; problem: string } {
  if (!path.startsWith('$')) return { ok: false, problem: `a path starts with "$" (the output's payload), not ${JSON.stringify(path.slice(0, 1))}` };
  const segments: PathSegment[] = [];
  let at = 1;
  while (at < path.length) {
    const rest = path.slice(at);
    const member = /^\.([A-Za-z_][A-Za-z0-9_-]*)/.exec(rest);
    if (member !== null) {
      segments.push(member[1] as string);
      at += member[0].length;
      continue;
    }
    const index = /^\[(0|[1-9][0-9]{0,8})\]/.exec(rest);
    if (index !== null) {
      segments.push(Number(index[1]));
      at += index[0].length;
      continue;
    }
    const quoted = /^\[("(?:[^"\\]|\\.)*")\]/.exec(rest);
    if (quoted !== null) {
      try {
        segments.push(JSON.parse(quoted[1] as string) as string);
      } catch {
        return { ok: false, problem: `the key ${quoted[1]} at position ${at} is not a JSON string` };
      }
      at += quoted[0].length;
      continue;
    }
    return { ok: false, problem: `unexpected ${JSON.stringify(rest.slice(0, 10))} at position ${at}: expected .name, ["name"] or [index]` };
  }
  return { ok: true, segments };
}

/** Why a condition cannot be evaluated whatever the data (a bad path, a missing or extra `value`), if it cannot. */
export function conditionProblem(condition: Condition): string | undefined {
  if (!CONDITION_OPS.includes(condition.op)) return `op must be one of ${CONDITION_OPS.join(', ')}, not ${JSON.stringify(condition.op)}`;
  const parsed = parsePath(condition.path);
  if (!parsed.ok) return `path ${JSON.stringify(condition.path)}: ${parsed.problem}`;
  if (condition.op === 'exists' && condition.value !== undefined) return '`exists` takes no value';
  if (condition.op !== 'exists' && condition.value === undefined) return `\`${condition.op}\` needs a value to compare with`;
  if ((condition.op === '>' || condition.op === '>=' || condition.op === '<' || condition.op === '<=') && typeof condition.value !== 'number' && typeof condition.value !== 'string')
    return `\`${condition.op}\` compares numbers or strings, not ${condition.value === null ? 'null' : typeof condition.value}`;
  return undefined;
}

/** The value at `segments` inside `payload`, or undefined when the path leads nowhere. */
export function valueAt(payload: JsonValue, segments: readonly PathSegment[]): JsonValue | undefined {
  let current: JsonValue | undefined = payload;
  for (const segment of segments) {
    if (current === null || current === undefined || typeof current !== 'object') return undefined;
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[segment];
    } else {
      if (Array.isArray(current) || !Object.hasOwn(current, segment)) return undefined;
      current = (current as Record<string, JsonValue>)[segment];
    }
  }
  return current;
}

/**
 * Whether `payload` satisfies `condition`. Total: any payload gives true or false, never an error. A
 * path that leads nowhere satisfies only `!=`; `==` and `!=` compare canonical JSON (so objects and
 * arrays compare by content, 1 and 1.0 are equal); the order operators compare two numbers or two
 * strings (strings in UTF-16 code-unit order) and are false for anything else.
 */
export function holds(condition: Condition, payload: JsonValue): boolean {
  const parsed = parsePath(condition.path);
  if (!parsed.ok) return false;
  const found = valueAt(payload, parsed.segments);
  if (condition.op === 'exists') return found !== undefined;
  const value = condition.value;
  if (value === undefined) return false;
  if (condition.op === '==') return found !== undefined && canonicalJson(found) === canonicalJson(value);
  if (condition.op === '!=') return found === undefined || canonicalJson(found) !== canonicalJson(value);
  if (typeof found === 'number' && typeof value === 'number') return compare(condition.op, found, value);
  if (typeof found === 'string' && typeof value === 'string') return compare(condition.op, found, value);
  return false;
}

function compare<T extends number | string>(op: '>' | '>=' | '<' | '<=', a: T, b: T): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

/** The condition as the definition hash sees it: every field, `value` only when given. */
export function conditionForHash(condition: Condition): JsonValue {
  return {
    step: condition.step,
    output: condition.output,
    path: condition.path,
    op: condition.op,
    ...(condition.value === undefined ? {} : { value: condition.value }),
  };
}
