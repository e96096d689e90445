import type { z } from 'zod';
import type { Artifact, ArtifactDraft } from '../core/artifact.js';
import { ValidationError } from '../core/error-class.js';

/**
 * The one input artifact of `kind`, checked against its schema. A step only sees the previous step's
 * outputs, so a missing or malformed artifact means the flow is wired wrong: a `Validation` failure.
 */
export function inputOf<T>(input: readonly Artifact[], kind: string, schema: z.ZodType<T>): T {
  const found = optionalInputOf(input, kind, schema);
  if (found === undefined) {
    const kinds = [...new Set(input.map((a) => a.kind))];
    throw new ValidationError(
      `expected an input artifact of kind ${kind}; the previous step gave ${kinds.length ? kinds.join(', ') : 'none'}`,
      { code: 'MISSING_INPUT', details: { expected: kind, received: kinds } },
    );
  }
  return found;
}

/** Like `inputOf`, but `undefined` when the previous step gave no artifact of `kind`. */
export function optionalInputOf<T>(input: readonly Artifact[], kind: string, schema: z.ZodType<T>): T | undefined {
  const matches = input.filter((a) => a.kind === kind);
  if (matches.length === 0) return undefined;
  if (matches.length > 1)
    throw new ValidationError(`expected one input artifact of kind ${kind}, got ${matches.length}`, {
      code: 'AMBIGUOUS_INPUT',
      details: { kind, count: matches.length },
    });
  const parsed = schema.safeParse(matches[0]?.payload);
  if (!parsed.success)
    throw new ValidationError(`input artifact ${kind} is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
      code: 'MALFORMED_INPUT',
      details: { kind, issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`) },
      cause: parsed.error,
    });
  return parsed.data;
}

/**
 * A step's outputs: its own artifacts, after every input artifact of another kind, passed on unchanged
 * (same payload, so same hash). Steps only see their predecessor's outputs, so this is how the report
 * at the end still gets the rejected rows from the reader at the start.
 */
export function forward(input: readonly Artifact[], outputs: readonly ArtifactDraft[]): ArtifactDraft[] {
  const replaced = new Set(outputs.map((o) => o.kind));
  const kept = input
    .filter((a) => !replaced.has(a.kind))
    .map((a): ArtifactDraft => (a.metadata === undefined ? { kind: a.kind, payload: a.payload } : { kind: a.kind, payload: a.payload, metadata: a.metadata }));
  return [...kept, ...outputs];
}
