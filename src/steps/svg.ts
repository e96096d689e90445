/** Escapes text for HTML and SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A coordinate with one decimal: enough for a screen, and the same text for the same data. */
export function px(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/**
 * Round tick values covering [min, max], about `count` of them, spaced 1, 2 or 5 × 10^k, so axes read
 * 0, 100, 200 … rather than 0, 117.3, 234.6 …
 */
export function niceTicks(min: number, max: number, count = 6): number[] {
  const span = max - min || Math.abs(max) || 1;
  const raw = span / Math.max(1, count - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let value = first; value < max + step * 0.999; value += step) ticks.push(Number(value.toFixed(10)));
  if (ticks.length === 1) ticks.push(Number((first + step).toFixed(10)));
  return ticks;
}

/** A linear map from a data interval onto a pixel interval. */
export function linearScale(domain: readonly [number, number], range: readonly [number, number]): (value: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const ratio = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (value) => r0 + (value - d0) * ratio;
}
