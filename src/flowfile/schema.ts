import { z } from 'zod';
import { INPUT_FORMATS, OUTPUT_FORMATS } from '../core/command-spec.js';
import { CONDITION_OPS } from '../core/condition.js';
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

const exitCodeList = z.array(z.int());

/** Any JSON value, for the `value` a condition compares with. */
const jsonValue: z.ZodType<unknown> = z.lazy(() => z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]));

/** `when: { step, path, op, value }`: run the step only when an upstream output satisfies this. */
export const whenSchema = z.strictObject({
  step: z.string().min(1),
  path: z.string().min(1),
  op: z.enum(CONDITION_OPS as ['==', '!=', '>', '>=', '<', '<=', 'exists']),
  value: jsonValue.optional(),
});

/** `inputs: { NAME: STEP | STEP.OUTPUT | { from, format } }` of a command step. */
const commandInputSchema = z.union([z.string().min(1), z.strictObject({ from: z.string().min(1), format: z.enum(INPUT_FORMATS).optional() })]);

/** `outputs: { NAME: { path, kind, format? } }` of a command step. */
const commandOutputSchema = z.strictObject({ path: z.string(), kind: z.string().min(1), format: z.enum(OUTPUT_FORMATS).optional() });

/** The keys only a command step may have. */
export const COMMAND_KEYS = ['command', 'outputs', 'exitCodes', 'script', 'env'] as const;

const stepFields = z.strictObject({
  id: z.string().regex(STEP_ID, {
    error: "expected a step id of letters, digits, '.', '_' or '-' (starting with a letter or digit, max 128)",
  }),
  /** A built-in step type or a module path; a step has exactly one of `uses` and `command`. */
  uses: z.string().min(1).optional(),
  /** A program to run (argv with placeholders): a command step (docs/commands.md). */
  command: z.array(z.string()).min(1).optional(),
  /** The steps whose outputs are this step's input, in order (`ctx.input`). */
  needs: z.array(z.string().min(1)).optional(),
  /** Named inputs: `NAME: STEP | STEP.OUTPUT` (`ctx.inputs.NAME`); a command step may also write `{ from, format }`. */
  inputs: z.record(z.string(), commandInputSchema).optional(),
  when: whenSchema.optional(),
  outputs: z.record(z.string(), commandOutputSchema).optional(),
  exitCodes: z
    .strictObject({ transient: exitCodeList.optional(), permanent: exitCodeList.optional(), validation: exitCodeList.optional(), runtime: exitCodeList.optional() })
    .optional(),
  script: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  retry: retrySchema.optional(),
  timeoutMs: z.int().min(1).optional(),
  map: mapSchema.optional(),
  resources: resourcesSchema.optional(),
  /** Satisfy the step from the step cache when it can (docs/cache.md); inherits the flow's `cache`. */
  cache: z.boolean().optional(),
});

/** A step: `uses` (a step module) or `command` (a program), never both; command-only keys need `command`. */
export const stepSchema = stepFields.check((ctx) => {
  const step = ctx.value;
  if (step.uses === undefined && step.command === undefined)
    ctx.issues.push({ code: 'custom', message: 'is required (expected a string): a step type or module path, or give `command` to run a program', input: undefined, path: ['uses'] });
  if (step.uses !== undefined && step.command !== undefined)
    ctx.issues.push({ code: 'custom', message: 'a step has either `uses` or `command`, not both', input: step.command, path: ['command'] });
  if (step.command === undefined)
    for (const key of COMMAND_KEYS)
      if (key !== 'command' && step[key] !== undefined)
        ctx.issues.push({ code: 'custom', message: `\`${key}\` is for command steps (with \`command\`), not for \`uses\``, input: step[key], path: [key] });
  if (step.command === undefined)
    for (const [name, input] of Object.entries(step.inputs ?? {}))
      if (typeof input !== 'string')
        ctx.issues.push({ code: 'custom', message: '`{ from, format }` is for command steps: a step module reads its input as artifacts, so write STEP or STEP.OUTPUT', input, path: ['inputs', name] });
  if (step.command !== undefined && step.params !== undefined)
    ctx.issues.push({ code: 'custom', message: 'a command step has no `params`: its arguments are in `command`, its settings in `env`', input: step.params, path: ['params'] });
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
  /** What a step failed for good does to the rest of the flow: `stop` (default) or `continue` (docs/graphs.md). */
  onFailure: z.enum(['stop', 'continue']).optional(),
  steps: z.array(stepSchema).min(1),
});

export type RetryInput = z.infer<typeof retrySchema>;
export type StepInput = z.infer<typeof stepSchema>;

/** The keys each kind of mapping accepts, for "unknown key" messages. */
export const KNOWN_KEYS = {
  flow: ['name', 'retry', 'cache', 'onFailure', 'steps'],
  step: ['id', 'uses', 'command', 'needs', 'inputs', 'when', 'outputs', 'exitCodes', 'script', 'env', 'params', 'retry', 'timeoutMs', 'map', 'resources', 'cache'],
  when: ['step', 'path', 'op', 'value'],
  retry: ['maxRetries', 'backoff', 'retryOn'],
  backoff: ['kind', 'baseMs', 'factor', 'maxMs', 'jitter'],
  map: ['over', 'shardSize'],
  resources: ['cpus', 'memoryMb'],
} as const;
