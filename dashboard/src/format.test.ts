import { WORKER_STATES } from "@strata/runtime-core";
import { formatAgo, formatBytes, formatDurationMs } from "./format.js";
import { WORKER_STATE_STYLE } from "./worker-state-style.js";

describe("formatting", () => {
  test("bytes use binary units and do not inflate sizes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(150 * 1024 * 1024)).toBe("150 MiB");
    expect(formatBytes(5 * 1024 ** 4)).toBe("5.0 TiB");
    expect(formatBytes(-1)).toBe("—");
    expect(formatBytes(Number.NaN)).toBe("—");
  });

  test("durations show the two largest units", () => {
    expect(formatDurationMs(450)).toBe("450ms");
    expect(formatDurationMs(93_000)).toBe("1m 33s");
    expect(formatDurationMs(3_600_000 * 5 + 60_000 * 7)).toBe("5h 7m");
    expect(formatDurationMs(86_400_000 * 2 + 3_600_000)).toBe("2d 1h");
    expect(formatAgo(1_000, 1_500)).toBe("just now");
    expect(formatAgo(0, 12_000)).toBe("12s ago");
  });

  test("every worker state has a style", () => {
    for (const state of WORKER_STATES) expect(WORKER_STATE_STYLE[state].label).not.toBe("");
  });
});
