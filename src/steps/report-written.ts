import type { JsonValue } from '../core/canonical-json.js';

/**
 * The `StepSignal` the report step records once its HTML page is on disk: the page's absolute path and
 * the SHA-256 of its bytes. The page shows this run's error times, so its hash is in no artifact (it
 * would change the flow's fingerprint); a signal keeps it beside the run, for whoever serves the page
 * later to check that the file is still the one this flow wrote.
 */
export const REPORT_WRITTEN = 'report-written';

export interface ReportWritten {
  /** Absolute path of the HTML page, on the machine that ran the step. */
  html: string;
  sha256: string;
}

export function reportWrittenSignal(html: string, sha256: string): { name: string; data: JsonValue } {
  return { name: REPORT_WRITTEN, data: { html, sha256 } };
}

/** The page a `StepSignal` names, or undefined when it is not a report's signal. */
export function reportWrittenOf(name: string, data: JsonValue | undefined): ReportWritten | undefined {
  if (name !== REPORT_WRITTEN || data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const { html, sha256 } = data;
  if (typeof html !== 'string' || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  return { html, sha256 };
}
