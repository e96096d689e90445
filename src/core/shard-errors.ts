import type { JsonObject } from './canonical-json.js';
import { ValidationError } from './error-class.js';

/**
 * A mapped step's input cannot be split: no input artifact, or more than one, has the array field
 * `map.over`. The flow is wired wrong for this `map`, so the step fails `Validation` (never retried
 * automatically: the same input would fail the same way).
 */
export class MapInputError extends ValidationError {
  constructor(
    message: string,
    readonly over: string,
    details: JsonObject,
  ) {
    super(message, { code: 'MAP_INPUT', details: { over, ...details } });
  }
}

/**
 * The outputs of a mapped step's shards cannot be merged into what one unsharded run would give: they
 * differ in number or kind, or a non-array `field` differs between shards (a count or summary of the
 * batch: such a step must not be mapped).
 */
export class ShardMergeError extends ValidationError {
  constructor(
    message: string,
    /** The output's position, or null when the shards disagree on the number of outputs. */
    readonly output: number | null,
    /** The payload field the shards disagree on (`$` for the whole payload), or null. */
    readonly field: string | null,
    details: JsonObject = {},
  ) {
    super(message, { code: 'SHARD_MERGE', details: { output, field, ...details } });
  }
}
