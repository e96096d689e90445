import type { CachePruneOptions, CacheStats } from '../../stores/step-cache-index.js';
import { EXIT, UsageError, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { withStore } from '../store.js';

/** `chemflow cache stats --json`: the `CacheStats` of the store. */
export type CacheStatsReport = CacheStats;

/**
 * `chemflow cache stats`: steps satisfied from the cache (hits), cache entries, and the bytes of the
 * artifacts those entries name.
 */
export async function cacheStatsCommand(ctx: CommandContext, options: OutputOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const stats: CacheStatsReport = await store.cacheStats();
    if (options.json === true) printJson(ctx, stats);
    else
      ctx.io.stdout.write(
        `Cache hits     ${stats.hits} step(s) satisfied from the cache\n` +
          `Cache entries  ${stats.entries} finished step(s) a later flow may reuse\n` +
          `Artifacts      ${formatBytes(stats.artifactBytes)} named by the entries\n`,
      );
    return EXIT.ok;
  });
}

export interface CachePruneCommandOptions extends OutputOptions {
  /** `--older-than`: parsed by `parseOlderThan`. */
  olderThan?: Date;
  stepType?: string;
  all?: boolean;
}

/** `chemflow cache prune --json`. */
export interface CachePruneReport {
  deleted: number;
  olderThan: string | null;
  stepType: string | null;
}

/**
 * `chemflow cache prune`: drops cache entries (older than a date, of a step type, or `--all`) from the
 * cache index. The event log and the artifacts are untouched: a pruned step simply runs next time.
 */
export async function cachePruneCommand(ctx: CommandContext, options: CachePruneCommandOptions): Promise<ExitCode> {
  const filters: CachePruneOptions = {
    ...(options.olderThan === undefined ? {} : { olderThan: options.olderThan }),
    ...(options.stepType === undefined ? {} : { stepType: options.stepType }),
  };
  if (filters.olderThan === undefined && filters.stepType === undefined && options.all !== true)
    throw new UsageError(
      'cache prune needs --older-than, --step-type or --all',
      'pass `--older-than <date>` and/or `--step-type <uses>`, or `--all` to drop every cache entry',
    );
  return withStore(ctx, async (store) => {
    const deleted = await store.pruneCache(filters);
    const report: CachePruneReport = {
      deleted,
      olderThan: filters.olderThan?.toISOString() ?? null,
      stepType: filters.stepType ?? null,
    };
    if (options.json === true) printJson(ctx, report);
    else ctx.io.stdout.write(`Pruned ${deleted} cache entr${deleted === 1 ? 'y' : 'ies'}; the event log is unchanged.\n`);
    return EXIT.ok;
  });
}

const DURATION = /^(\d+)([dhm])$/;
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;

/**
 * `--older-than`: an ISO 8601 date or time (`2026-01-31`, `2026-01-31T12:00:00Z`), or an age such as
 * `30d`, `12h` or `90m` counted back from `now`. Undefined when it is neither.
 */
export function parseOlderThan(value: string, now: number = Date.now()): Date | undefined {
  const age = DURATION.exec(value);
  if (age !== null) return new Date(now - Number(age[1]) * UNIT_MS[age[2] as keyof typeof UNIT_MS]);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
