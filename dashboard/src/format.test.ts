import { WORKER_STATES } from "@strata/runtime-core";
import {
  formatAgo,
  formatBytes,
  formatBytesPerSecond,
  formatCount,
  formatDecimal,
  formatDurationMs,
  formatPercent,
  formatTimestamp,
} from "./format.js";
import { WORKER_STATE_STYLE } from "./worker-state-style.js";

describe("formatting", () => {
  test("bytes use binary units and do not inflate sizes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(150 * 1024 * 1024)).toBe("150 MiB");
    // The original showed this checkpoint as "650 TB".
    expect(formatBytes(650 * 1024 * 1024)).toBe("650 MiB");
    expect(formatBytes(5 * 1024 ** 4)).toBe("5.0 TiB");
    expect(formatBytes(-1)).toBe("—");
    expect(formatBytes(Number.NaN)).toBe("—");
  });

  test("a value that rounds up to the next unit moves to it", () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe("1.0 MiB");
    expect(formatBytes(1023.9 * 1024)).toBe("1.0 MiB");
    expect(formatBytes(9.97 * 1024)).toBe("10 KiB");
    expect(formatBytesPerSecond(3 * 1024 * 1024)).toBe("3.0 MiB/s");
    expect(formatBytesPerSecond(-5)).toBe("—");
  });

  test("durations show the two largest units", () => {
    expect(formatDurationMs(450)).toBe("450ms");
    expect(formatDurationMs(93_000)).toBe("1m 33s");
    expect(formatDurationMs(3_600_000 * 5 + 60_000 * 7)).toBe("5h 7m");
    expect(formatDurationMs(86_400_000 * 2 + 3_600_000)).toBe("2d 1h");
    expect(formatAgo(1_000, 1_500)).toBe("just now");
    expect(formatAgo(0, 12_000)).toBe("12s ago");
    expect(formatAgo(5_000, 1_000)).toBe("just now");
  });

  test("counts, decimals and percentages", () => {
    expect(formatCount(1_281_167)).toBe("1,281,167");
    expect(formatDecimal(0.25)).toBe("0.25");
    expect(formatDecimal(12.54)).toBe("12.5");
    expect(formatDecimal(1234.4)).toBe("1,234");
    expect(formatDecimal(null)).toBe("—");
    expect(formatPercent(42.42)).toBe("42%");
    expect(formatPercent(0.4)).toBe("0.4%");
    expect(formatPercent(undefined)).toBe("—");
  });

  test("absolute times are local, sortable and unambiguous", () => {
    const ms = new Date(2026, 10, 29, 15, 4, 5, 120).getTime();
    expect(formatTimestamp(ms)).toBe("2026-11-29 15:04:05");
    expect(formatTimestamp(ms, { withMs: true })).toBe("2026-11-29 15:04:05.120");
  });

  test("every worker state has a label and a badge", () => {
    // The coordinator's list (runtime-core), so a new state without a style fails here.
    const states = WORKER_STATES;
    for (const state of states) {
      expect(WORKER_STATE_STYLE[state].label).not.toBe("");
      expect(WORKER_STATE_STYLE[state].badge).not.toBe("");
    }
    expect(Object.keys(WORKER_STATE_STYLE).sort()).toEqual([...states].sort());
  });
});
