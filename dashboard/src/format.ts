/**
 * Formatting helpers for the dashboard's tables, cards and charts. Pure functions, so the same
 * text shows in the browser and in tests. Sizes use binary units (KiB = 1024 B): the original
 * dashboard multiplied byte counts by a mebibyte and showed a 650 MiB checkpoint as "650 TB".
 */

const byteUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/**
 * `1536` → `"1.5 KiB"`, `681_574_400` → `"650 MiB"`. Binary units; one decimal below 10 of a unit,
 * none from 10 up; a value that rounds to 1024 moves to the next unit (`"1.0 MiB"`, never
 * `"1024 KiB"`). Negative or non-finite input gives `"—"`.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  let digits = value >= 10 ? 0 : 1;
  if (Number(value.toFixed(digits)) >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024;
    unit++;
    digits = 1;
  } else if (digits === 1 && Number(value.toFixed(1)) >= 10) {
    digits = 0;
  }
  return `${value.toFixed(digits)} ${byteUnits[unit]}`;
}

/** A byte rate: `1_572_864` → `"1.5 MiB/s"`. Same rules as {@link formatBytes}. */
export function formatBytesPerSecond(bytesPerSecond: number): string {
  const text = formatBytes(bytesPerSecond);
  return text === "—" ? text : `${text}/s`;
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

/**
 * How long ago `thenMs` was, relative to `nowMs` (both ms since the epoch): `"12s ago"`, or
 * `"just now"` under a second (and for a `thenMs` slightly in the future, from clock skew).
 */
export function formatAgo(thenMs: number, nowMs: number): string {
  const delta = nowMs - thenMs;
  if (!Number.isFinite(delta)) return "—";
  if (delta < 1000) return "just now";
  return `${formatDurationMs(delta)} ago`;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

/**
 * An absolute local time, unambiguous and sortable: `"2026-11-29 15:04:05"`. With `withMs`,
 * milliseconds too (`"15:04:05.120"`). Non-finite input gives `"—"`.
 */
export function formatTimestamp(ms: number, options: { withMs?: boolean } = {}): string {
  if (!Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${date} ${time}${options.withMs ? `.${pad(d.getMilliseconds(), 3)}` : ""}`;
}

/** A local clock time, `"15:04:05"`, for dense lists and chart axes. */
export function formatClockTime(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// Number formatters are costly to create (toLocaleString builds one per call); tables format
// thousands of cells a second, so each precision has one, made once.
const integerFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimalFormats = [0, 1, 2].map(
  (digits) =>
    new Intl.NumberFormat("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }),
);

/** An integer count with thousands separators: `1281167` → `"1,281,167"`. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return "—";
  return integerFormat.format(Math.round(value));
}

/**
 * A measured rate or other real number with sensible precision: two decimals below 10, one
 * below 100, none above, thousands separated (`0.25`, `12.5`, `1,234`). `null` gives `"—"`.
 */
export function formatDecimal(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  const digits = abs === 0 ? 0 : abs < 10 ? 2 : abs < 100 ? 1 : 0;
  return (decimalFormats[digits] as Intl.NumberFormat).format(value);
}

/** A percentage of 0 to 100 (not a fraction): `42.42` → `"42%"`, `0.4` → `"0.4%"`. */
export function formatPercent(percent: number | null | undefined): string {
  if (percent === null || percent === undefined || !Number.isFinite(percent)) return "—";
  return `${percent > 0 && percent < 1 ? percent.toFixed(1) : Math.round(percent)}%`;
}
