import { z } from 'zod';
import { ERROR_CLASSES } from '../core/error-class.js';
import { unstorableReason } from '../core/storable.js';

/** Step ids as `defineFlow` accepts them. */
const STEP_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const backoffSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('none') }),
  z.strictObject({
    kind: z.literal('exponential'),
    baseMs: z.number().min(0),
    factor: z.number().min(1).optional(),
    maxMs: z.number().min(0).optional(),
    jitter: z.number().min(0).max(1).optional(),
  }),
]);

/** A retry policy as written in a flow file; missing fields are inherited (step ← flow ← default). */
export const retrySchema = z.strictObject({
  maxRetries: z.int().min(0).optional(),
  backoff: backoffSchema.optional(),
  retryOn: z.array(z.enum(ERROR_CLASSES as ['Transient', 'Permanent', 'Validation', 'Runtime'])).optional(),
});

/** `map: { over, shardSize }`: split the input's array field `over` into shards (see `MapSpec`). */
export const mapSchema = z.strictObject({
  over: z.string().min(1),
  shardSize: z.int().min(1),
});

/** `resources: { cpus, memoryMb }`: what one attempt needs of its worker (scheduling only, never hashed). */
export const resourcesSchema = z.strictObject({
  cpus: z.int().min(1).optional(),
  memoryMb: z.int().min(1).optional(),
});

export const stepSchema = z.strictObject({
  id: z.string().regex(STEP_ID, {
    error: "expected a step id of letters, digits, '.', '_' or '-' (starting with a letter or digit, max 128)",
  }),
  uses: z.string().min(1),
  params: z.record(z.string(), z.unknown()).optional(),
  retry: retrySchema.optional(),
  timeoutMs: z.int().min(1).optional(),
  map: mapSchema.optional(),
  resources: resourcesSchema.optional(),
  /** Satisfy the step from the step cache when it can (docs/cache.md); inherits the flow's `cache`. */
  cache: z.boolean().optional(),
});

/** The flow name is stored in the flow's first event: text PostgreSQL refuses is a flow file error. */
const flowName = z
  .string()
  .min(1)
  .check((ctx) => {
    const reason = unstorableReason(ctx.value);
    if (reason !== undefined) ctx.issues.push({ code: 'custom', message: `the name ${reason}`, input: ctx.value });
  });

export const flowFileSchema = z.strictObject({
  name: flowName,
  retry: retrySchema.optional(),
  /** The default `cache` of every step; default false. */
  cache: z.boolean().optional(),
  steps: z.array(stepSchema).min(1),
});

export type RetryInput = z.infer<typeof retrySchema>;
export type StepInput = z.infer<typeof stepSchema>;
export type FlowFileInput = z.infer<typeof flowFileSchema>;

/** The keys each kind of mapping accepts, for "unknown key" messages. */
export const KNOWN_KEYS = {
  flow: ['name', 'retry', 'cache', 'steps'],
  step: ['id', 'uses', 'params', 'retry', 'timeoutMs', 'map', 'resources', 'cache'],
  retry: ['maxRetries', 'backoff', 'retryOn'],
  backoff: ['kind', 'baseMs', 'factor', 'maxMs', 'jitter'],
  map: ['over', 'shardSize'],
  resources: ['cpus', 'memoryMb'],
} as const;
