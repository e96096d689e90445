/**
 * Whether the tests run under CI: the one reading of `CI` for every helper. Unset, empty, `0` and
 * `false` (any case, surrounding spaces ignored) mean a developer's machine; anything else means CI.
 * Under CI a missing dependency (PostgreSQL, Chromium) fails the run instead of skipping.
 */
export function isCi(value: string | undefined = process.env.CI): boolean {
  if (value === undefined) return false;
  const normalized = value.trim().toLowerCase();
  return normalized !== '' && normalized !== '0' && normalized !== 'false';
}
