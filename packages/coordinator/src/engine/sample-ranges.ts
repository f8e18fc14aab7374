import type { SampleRange } from "@strata/runtime-core";

/** Sorts and merges ranges; touching or overlapping ranges become one. Empty ranges are dropped. */
export function mergeRanges(ranges: readonly SampleRange[]): SampleRange[] {
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const out: SampleRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.start <= last.end) {
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push({ start: r.start, end: r.end });
    }
  }
  return out;
}

/** The parts of [start, end) not covered by `consumed` (sorted and merged). */
export function remainingRanges(
  start: number,
  end: number,
  consumed: readonly SampleRange[],
): SampleRange[] {
  const out: SampleRange[] = [];
  let cursor = start;
  for (const r of consumed) {
    if (r.end <= cursor) continue;
    if (r.start >= end) break;
    if (r.start > cursor) out.push({ start: cursor, end: Math.min(r.start, end) });
    cursor = Math.max(cursor, r.end);
    if (cursor >= end) break;
  }
  if (cursor < end) out.push({ start: cursor, end });
  return out;
}

/** Total number of samples in sorted, non-overlapping ranges. */
export function rangesLength(ranges: readonly SampleRange[]): number {
  let total = 0;
  for (const r of ranges) total += r.end - r.start;
  return total;
}
