import { createSilentLogger, ManualClock, type ResourceUsage } from "@strata/runtime-core";
import { WORKER_SAMPLE_INTERVAL_MS } from "../api/worker-history.js";
import { createCoordinatorEngine } from "../engine/index.js";
import { type History, openHistory } from "../history/history.js";
import { createCoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import { createMemoryStore } from "../store/index.js";
import { TaskManager } from "../tasks/task-manager.js";
import { ClusterMonitor } from "./cluster-monitor.js";

/** A multiple of the sample interval, so slots start at T0. */
const T0 = 1_700_000_000_000;

const usage = (cpuPercent: number, gpus: readonly number[]): ResourceUsage => ({
  cpuPercent,
  memoryUsedBytes: 2_000_000_000,
  gpus: gpus.map((utilizationPercent, gpuId) => ({
    gpuId,
    utilizationPercent,
    memoryUsedBytes: 0,
    memoryTotalBytes: 0,
    temperatureCelsius: 60,
  })),
  diskReadBytes: 0,
  diskWriteBytes: 0,
  networkRxBytes: 0,
  networkTxBytes: 0,
});

async function harness() {
  const clock = new ManualClock(T0);
  const logger = createSilentLogger();
  const engine = createCoordinatorEngine({
    store: createMemoryStore(),
    clock,
    heartbeatTimeoutMs: 15_000,
  });
  await engine.start();
  const history: History = openHistory({
    retention: { retentionMs: 86_400_000, fullResolutionMs: 3_600_000, maxEvents: 10_000 },
    clock,
  });
  const metrics = createCoordinatorMetrics(() => ({
    workersRegistered: 0,
    workersLive: 0,
    workersDead: 0,
    datasets: 0,
    membershipVersion: 0,
    barrierWaiters: 0,
  }));
  const tasks = new TaskManager({ engine, history, clock, logger });
  const monitor = new ClusterMonitor({
    engine,
    history,
    metrics,
    tasks,
    clock,
    logger,
    onTick: () => undefined,
  });
  return {
    clock,
    engine,
    history,
    monitor,
    async close() {
      monitor.stop();
      await engine.close();
      await history.close();
    },
  };
}

const register = (h: Awaited<ReturnType<typeof harness>>, workerId: string) =>
  h.engine.registerWorker({
    workerId,
    hostname: "h",
    port: 0,
    gpuCount: 2,
    memoryBytes: 0,
    metadata: {},
  });

test("the monitor samples every live worker once per 10-second slot, and no dead or departed one", async () => {
  const h = await harness();
  try {
    await register(h, "w-gpu");
    await register(h, "w-cpu");
    await register(h, "w-left");
    await h.engine.deregisterWorker("w-left");
    h.engine.heartbeat({
      workerId: "w-gpu",
      state: "training",
      step: 10,
      epoch: 2,
      resources: usage(150, [80, 90]),
    });
    h.engine.heartbeat({ workerId: "w-cpu", state: "idle" });
    h.monitor.start(); // the first tick samples at once (a new slot)
    for (let s = 1; s <= 25; s++) {
      h.clock.advance(1_000);
      if (s % 2 === 0) h.engine.heartbeat({ workerId: "w-gpu", step: 10 + s * 5 });
      h.engine.heartbeat({ workerId: "w-cpu" });
    }
    await h.history.flush();
    const query = { from: T0, to: T0 + 30_000, step_ms: WORKER_SAMPLE_INTERVAL_MS };
    const gpu = h.history.readWorkerSamples("w-gpu", query);
    // Samples at T0, T0 + 10 s and T0 + 20 s: one per slot, though the monitor ticked 26 times.
    expect(gpu.first_sample_at).toBe(T0);
    expect(gpu.last_sample_at).toBe(T0 + 20_000);
    expect(gpu.step).toEqual([10, 50, 100]); // the tick at T0 + 10 s runs before that second's heartbeat
    expect(gpu.epoch).toEqual([2, 2, 2]);
    expect(gpu.state).toEqual(["training", "training", "training"]);
    expect(gpu.cpu_percent).toEqual([150, 150, 150]);
    expect(gpu.memory_used_bytes).toEqual([2_000_000_000, 2_000_000_000, 2_000_000_000]);
    expect(gpu.gpu_utilization_percent).toEqual([85, 85, 85]);
    // The monitor's step rate: none from one heartbeat, then 10 steps every 2 s.
    expect(gpu.step_rate[0]).toBeNull();
    expect(gpu.step_rate[1]).toBeCloseTo(5, 5);
    expect(gpu.step_rate[2]).toBeCloseTo(5, 5);
    const cpu = h.history.readWorkerSamples("w-cpu", query);
    expect(cpu.state).toEqual(["idle", "idle", "idle"]);
    expect(cpu.cpu_percent).toEqual([null, null, null]);
    expect(cpu.gpu_utilization_percent).toEqual([null, null, null]);
    expect(h.history.readWorkerSamples("w-left", query).first_sample_at).toBeNull();

    // w-gpu goes silent and is declared dead after 15 s: its samples stop, w-cpu's go on.
    for (let s = 0; s < 40; s++) {
      h.clock.advance(1_000);
      await h.engine.idle(); // a death is stored before it counts
      h.engine.heartbeat({ workerId: "w-cpu" });
    }
    await h.history.flush();
    expect(h.engine.worker("w-gpu")?.state).toBe("dead");
    const later = { from: T0, to: T0 + 70_000, step_ms: WORKER_SAMPLE_INTERVAL_MS };
    const dead = h.history.readWorkerSamples("w-gpu", later);
    expect(dead.last_sample_at).toBeGreaterThanOrEqual(T0 + 30_000); // still alive then
    expect(dead.last_sample_at).toBeLessThanOrEqual(T0 + 40_000); // dead at about T0 + 39 s
    expect(dead.step.slice(5)).toEqual([null, null]);
    expect(h.history.readWorkerSamples("w-cpu", later).last_sample_at).toBe(T0 + 60_000);
  } finally {
    await h.close();
  }
});
