import { z } from 'zod';
import { ERROR_CLASSES } from './error-class.js';
import { CorruptEventError } from './errors.js';
import { EVENT_SCHEMA_VERSION, type FlowEvent, type FlowEventBody, type FlowEventType } from './events.js';

const json: z.ZodType<unknown> = z.unknown();
const index = z.number().int().nonnegative();
const positive = z.number().int().positive();
const hash = z.string().regex(/^[0-9a-f]{64}$/, 'a 64-digit hex hash');
// Optional everywhere: logs written before sharded map steps have no such field.
// Set only on the outcomes of a flow whose onFailure is continue.
const flowFailed = z.boolean().optional();
const shard = z
  .object({ index, count: positive })
  .refine((s) => s.index < s.count, 'a shard index below its count')
  .optional();

const backoff = z.union([
  z.object({ kind: z.literal('none') }),
  z.object({
    kind: z.literal('exponential'),
    baseMs: z.number().nonnegative(),
    factor: z.number().min(1).optional(),
    maxMs: z.number().nonnegative().optional(),
    jitter: z.number().min(0).max(1).optional(),
  }),
]);
const stepPolicy = z.object({
  retry: z.object({
    maxRetries: index,
    backoff,
    retryOn: z.array(z.enum(ERROR_CLASSES as [string, ...string[]])).optional(),
  }),
  timeoutMs: positive.nullable(),
});

const bodySchemas: { [T in FlowEventType]: z.ZodType<Omit<Extract<FlowEventBody, { type: T }>, 'type'>> } = {
  FlowInitialized: z.object({
    definitionHash: hash,
    stepCount: positive,
    flowName: z.string(),
    stepIds: z.array(z.string()),
    metadata: z.record(z.string(), json),
    policies: z.array(stepPolicy).optional(),
    needs: z.array(z.array(index)).optional(),
    onFailure: z.literal('continue').optional(),
  }) as z.ZodType<Omit<Extract<FlowEventBody, { type: 'FlowInitialized' }>, 'type'>>,
  StepStarted: z.object({ stepIndex: index, stepId: z.string(), attempt: positive, shardCount: positive.optional(), shard }),
  StepSignal: z.object({
    stepIndex: index,
    stepId: z.string(),
    attempt: positive,
    name: z.string(),
    data: json,
    shard,
  }) as z.ZodType<Omit<Extract<FlowEventBody, { type: 'StepSignal' }>, 'type'>>,
  StepFinished: z.object({
    stepIndex: index,
    stepId: z.string(),
    attempt: positive,
    outputs: z.array(hash),
    fingerprint: hash,
    // Optional: logs written before the step cache have no such field.
    cachedFrom: z.object({ flowId: z.string(), stepId: z.string() }).nullable().optional(),
    shard,
    flowFailed,
  }),
  StepFailed: z.object({
    stepIndex: index,
    stepId: z.string(),
    attempt: positive,
    errorClass: z.enum(ERROR_CLASSES as [string, ...string[]]),
    error: z.object({ code: z.string(), message: z.string() }),
    details: z.record(z.string(), json),
    fingerprint: hash,
    retryCount: index,
    maxRetries: index,
    shard,
    flowFailed,
  }) as z.ZodType<Omit<Extract<FlowEventBody, { type: 'StepFailed' }>, 'type'>>,
  RetryScheduled: z.object({
    stepIndex: index,
    stepId: z.string(),
    retryIndex: positive,
    reason: z.string().nullable(),
    delayMs: z.number().nonnegative(),
    notBefore: z.string(),
    shard,
  }),
  StepSkipped: z.object({ stepIndex: index, stepId: z.string(), reason: z.enum(['condition', 'needs-skipped']), fingerprint: hash, flowFailed }),
  FlowCompleted: z.object({ flowFingerprint: hash }),
  FlowCancelled: z.object({ reason: z.string().nullable() }),
};

/** A row as a store reads it, before it is trusted. */
export interface RawEvent {
  flowId: string;
  version: number;
  seq: number;
  ts: string;
  eventType: string;
  schemaVersion: number;
  payload: unknown;
}

/** Turns a stored row into a typed event, or throws `CorruptEventError` naming the flow and version. */
export function decodeEvent(raw: RawEvent): FlowEvent {
  const fail = (reason: string): never => {
    throw new CorruptEventError(raw.flowId, raw.version, reason);
  };
  if (raw.schemaVersion > EVENT_SCHEMA_VERSION)
    fail(`schema version ${raw.schemaVersion} is newer than this chemflow understands (${EVENT_SCHEMA_VERSION})`);
  const schema = (bodySchemas as Record<string, z.ZodType<object> | undefined>)[raw.eventType];
  if (schema === undefined) return fail(`unknown event type ${JSON.stringify(raw.eventType)}`);
  const parsed = schema.safeParse(raw.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`${raw.eventType} payload invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? ''}`);
  }
  return {
    ...parsed.data,
    type: raw.eventType,
    flowId: raw.flowId,
    version: raw.version,
    seq: raw.seq,
    ts: raw.ts,
    schemaVersion: raw.schemaVersion,
  } as FlowEvent;
}

/** The payload a store persists for an event: its body without the envelope. */
export function eventPayload(event: FlowEventBody): Record<string, unknown> {
  // Left out by destructuring, not `delete`: a deleted key turns the object into a slow dictionary,
  // which JSON.stringify (every append) then walks more slowly.
  const { type: _type, ts: _ts, ...rest } = event as FlowEventBody & { ts?: string };
  return rest;
}
