import { createArtifact, type Artifact, type ArtifactDraft } from './artifact.js';
import { canonicalJson, type JsonValue } from './canonical-json.js';
import { jsonTypeName } from './json-type.js';
import { ShardMergeError } from './shard-errors.js';

/**
 * The rules a mapped step's merge applies to outputs held whole (`mergeStoredShardOutputs` in
 * src/runtime/batch-shards.ts is the one merge, for whole, batch and file outputs alike; these are its
 * pure parts). Output i of the step is merged from output i of every shard, in shard order:
 *
 * - an input artifact passed on unchanged (same hash) by every shard is that input artifact, once:
 *   steps forward the artifacts they do not replace (see `forward` in src/steps/step-io.ts), and
 *   concatenating k copies of a list every shard got whole would repeat it k times;
 * - each shard's own slice of the split artifact, passed on unchanged, is the split artifact itself;
 * - otherwise each array field of the payload (or the payload, if it is an array) is concatenated in
 *   shard order, and every other field must be equal (canonical JSON) in every shard, as must the
 *   kind and the metadata (`mergeOutputDrafts`).
 *
 * A disagreement is a `ShardMergeError` (class `Validation`) naming the output and the field. A field
 * that counts or summarises the batch is caught only when shards differ on it: a step with such an
 * output must not be mapped (built-in ones refuse it, see `StepModule.notMappable`).
 */

/**
 * Output `i` of every shard (the same kind, in shard order), neither an input passed on nor the split
 * artifact's slices: array fields concatenated, metadata and every other field equal in all shards.
 */
export function mergeOutputDrafts(i: number, drafts: readonly ArtifactDraft[]): Artifact {
  const [head] = drafts;
  if (head === undefined) throw new ShardMergeError(`output ${i}: no shard gave it`, i, null);
  const where = `output ${i} (${head.kind})`;
  const metadata = head.metadata;
  sameMetadata(i, drafts);
  const payload = mergePayloads(drafts.map((d) => d.payload), where, i);
  return createArtifact({ kind: head.kind, payload, ...(metadata === undefined ? {} : { metadata }) });
}

/** Throws `ShardMergeError` unless every shard's output `i` has the metadata of shard 0's. */
export function sameMetadata(i: number, outputs: readonly { readonly kind: string; readonly metadata?: Record<string, JsonValue> }[]): void {
  const head = outputs[0];
  if (head === undefined) return;
  outputs.forEach((output, shard) => {
    if (canonicalJson(output.metadata ?? null) !== canonicalJson(head.metadata ?? null))
      throw new ShardMergeError(`output ${i} (${head.kind}): the metadata of shard ${shard} differs from shard 0's`, i, 'metadata');
  });
}

function mergePayloads(payloads: readonly JsonValue[], where: string, output: number): JsonValue {
  const [head] = payloads;
  if (head === undefined) return null;
  if (Array.isArray(head)) return concatenated(payloads, '$', where, output);
  if (typeof head !== 'object' || head === null) return equalInAll(payloads, '$', where, output);
  const merged: Record<string, JsonValue> = {};
  const keys = Object.keys(head);
  payloads.forEach((payload, shard) => {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
      throw new ShardMergeError(`${where}: shard ${shard} gave ${jsonTypeName(payload)} where shard 0 gave an object`, output, '$');
    const onlyInHead = keys.find((k) => !Object.hasOwn(payload, k));
    const onlyHere = Object.keys(payload).find((k) => !Object.hasOwn(head, k));
    if (onlyInHead !== undefined)
      throw new ShardMergeError(`${where}: field ${JSON.stringify(onlyInHead)} is in shard 0's payload but not in shard ${shard}'s`, output, onlyInHead);
    if (onlyHere !== undefined)
      throw new ShardMergeError(`${where}: field ${JSON.stringify(onlyHere)} is in shard ${shard}'s payload but not in shard 0's`, output, onlyHere);
  });
  for (const key of keys) {
    const values = payloads.map((p) => (p as Record<string, JsonValue>)[key] as JsonValue);
    merged[key] = Array.isArray(values[0]) ? concatenated(values, key, where, output) : equalInAll(values, key, where, output);
  }
  return merged;
}

function concatenated(values: readonly JsonValue[], field: string, where: string, output: number): JsonValue[] {
  const arrays = values.map((value, shard) => {
    if (!Array.isArray(value))
      throw new ShardMergeError(`${where}: field ${JSON.stringify(field)} is an array in shard 0 but ${jsonTypeName(value)} in shard ${shard}`, output, field);
    return value;
  });
  return arrays.flat(1);
}

function equalInAll(values: readonly JsonValue[], field: string, where: string, output: number): JsonValue {
  const [head] = values;
  const expected = canonicalJson(head);
  values.forEach((value, shard) => {
    const found = canonicalJson(value);
    if (found !== expected)
      throw new ShardMergeError(
        `${where}: field ${JSON.stringify(field)} differs between shards (shard 0: ${short(expected)}, shard ${shard}: ${short(found)}); ` +
          'a field that is not an array must be the same in every shard, so a step that counts or summarises its batch cannot be mapped',
        output,
        field,
      );
  });
  return head as JsonValue;
}

function short(json: string): string {
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/**
 * Throws `ShardMergeError` unless there are the outputs of `expected` shards and every shard gave as
 * many outputs as shard 0: the first check of every merge, whatever the outputs' form.
 */
export function checkShardOutputCounts(expected: number, outputsPerShard: readonly (readonly unknown[])[]): void {
  if (outputsPerShard.length !== expected)
    throw new ShardMergeError(`expected the outputs of ${expected} shard(s), got ${outputsPerShard.length}`, null, null);
  const first = outputsPerShard[0] ?? [];
  outputsPerShard.forEach((outputs, shard) => {
    if (outputs.length !== first.length)
      throw new ShardMergeError(
        `shards gave different numbers of outputs: shard 0 gave ${first.length}, shard ${shard} gave ${outputs.length}`,
        null,
        null,
        { counts: outputsPerShard.map((o) => o.length) },
      );
  });
}
