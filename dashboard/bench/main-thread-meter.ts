import type { CDPSession, Page } from "playwright-core";

/** One frame longer than 50 ms (a Long Animation Frame entry), in ms. */
export interface LongFrame {
  /** Frame start to the end of its rendering. */
  duration: number;
  /** Time in scripts during the frame (wall time of each script entry, summed). */
  scriptMs: number;
  /** Time in the rendering update (style, layout, paint) at the end of the frame. */
  renderMs: number;
  /** The page's own work in the frame: scripts plus rendering. The rest is waiting (the OS ran other processes). */
  workMs: number;
}

/** What {@link measureMainThread} saw in one window. */
export interface MainThreadSample {
  /** Main-thread task time per second of the window, in ms (CDP `Performance.getMetrics` TaskDuration). */
  taskMsPerSecond: number;
  /** Script time per second, in ms (ScriptDuration). */
  scriptMsPerSecond: number;
  /** Frames longer than 50 ms in the window (Long Animation Frames API). */
  longFrames: LongFrame[];
  /** Durations of tasks longer than 50 ms in the window (Long Tasks API), in ms. */
  longTasks: number[];
}

type Recorded = { __longFrames: [number, LongFrame][]; __longTasks: [number, number][] };

/**
 * Records long animation frames and long tasks from page start; call before `goto`. Both APIs
 * report only entries over 50 ms, so an empty list means no frame went over 50 ms.
 */
export async function installLongFrameRecorder(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as Recorded;
    w.__longFrames = [];
    w.__longTasks = [];
    try {
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          const frame = entry as PerformanceEntry & {
            renderStart: number;
            scripts: { duration: number }[];
          };
          const scriptMs = frame.scripts.reduce((sum, script) => sum + script.duration, 0);
          const renderMs =
            frame.renderStart > 0
              ? Math.max(0, frame.startTime + frame.duration - frame.renderStart)
              : 0;
          w.__longFrames.push([
            frame.startTime,
            { duration: frame.duration, scriptMs, renderMs, workMs: scriptMs + renderMs },
          ]);
        }
      }).observe({ type: "long-animation-frame", buffered: true });
    } catch {
      // Older engines: long tasks below still apply.
    }
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  });
}
async function metrics(cdp: CDPSession): Promise<Record<string, number>> {
  const { metrics: list } = (await cdp.send("Performance.getMetrics")) as {
    metrics: { name: string; value: number }[];
  };
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

/** Measures the page's main thread over `windowMs` of wall time. */
export async function measureMainThread(
  page: Page,
  cdp: CDPSession,
  windowMs: number,
): Promise<MainThreadSample> {
  const startPerf = await page.evaluate(() => performance.now());
  const before = await metrics(cdp);
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = await metrics(cdp);
  const seconds = (Date.now() - started) / 1000;
  const endPerf = await page.evaluate(() => performance.now());
  const entries = await page.evaluate(() => {
    const w = window as unknown as Recorded;
    return { frames: w.__longFrames, tasks: w.__longTasks };
  });
  const inWindow = <T>(list: [number, T][]) =>
    list.filter(([start]) => start >= startPerf && start <= endPerf).map(([, value]) => value);
  const delta = (name: string) => ((after[name] ?? 0) - (before[name] ?? 0)) * 1000;
  return {
    taskMsPerSecond: delta("TaskDuration") / seconds,
    scriptMsPerSecond: delta("ScriptDuration") / seconds,
    longFrames: inWindow(entries.frames),
    longTasks: inWindow(entries.tasks),
  };
}
