/**
 * Formatting helpers for the dashboard's tables and charts. Pure functions, so the same text
 * shows in the browser and in tests.
 */

const byteUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** `1536` → `"1.5 KiB"`. Binary units, one decimal below 10 of a unit, none above. Negative or non-finite input gives `"—"`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${byteUnits[unit]}`;
}

/** A duration in ms as the largest two units: `93_000` → `"1m 33s"`, `450` → `"450ms"`. */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalSeconds = Math.floor(ms / 1000);
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${seconds}s`;
  return `${seconds}s`;
}

/** How long ago `thenMs` was, relative to `nowMs`: `"12s ago"`, or `"just now"` under a second. */
export function formatAgo(thenMs: number, nowMs: number): string {
  const delta = nowMs - thenMs;
  if (!Number.isFinite(delta)) return "—";
  if (delta < 1000) return "just now";
  return `${formatDurationMs(delta)} ago`;
}
