import type { WorkerTick } from "@strata/coordinator/api";
import { NOW, workerFixture } from "../../test/fixtures/api-fixtures.js";
import { applyWorkerTicks, coarseStatus } from "./apply-worker-ticks.js";

const tick = (overrides: Partial<WorkerTick>): WorkerTick => ({
  id: "w-0",
  state: "training",
  alive: true,
  last_heartbeat: NOW,
  current_step: 1300,
  current_epoch: 1,
  current_task: "",
  step_rate: 5,
  samples_consumed: 41_600,
  cpu_percent: 150,
  memory_used_bytes: 13 * 1024 ** 3,
  ...overrides,
});

describe("applying ticks to the workers list", () => {
  test("changed workers get the tick's values; unchanged ones keep their object", () => {
    const w0 = workerFixture({ id: "w-0" });
    const w1 = workerFixture({ id: "w-1", rank: 1 });
    const next = applyWorkerTicks(
      [w0, w1],
      [tick({ id: "w-0", state: "dead", alive: false, step_rate: null })],
    );
    expect(next[1]).toBe(w1);
    expect(next[0]).toMatchObject({
      id: "w-0",
      state: "dead",
      status: "failed",
      alive: false,
      current_step: 1300,
      step_rate: null,
      hostname: "node-a",
      rank: 0,
    });
    expect(next[0]?.resources).toMatchObject({
      cpu_percent: 150,
      memory_used_bytes: 13 * 1024 ** 3,
    });
    expect(next[0]?.resources?.gpus).toHaveLength(2);
  });

  test("nothing to apply returns the same array; unknown workers are left to the refetch", () => {
    const list = [workerFixture()];
    expect(applyWorkerTicks(list, [])).toBe(list);
    expect(applyWorkerTicks(list, [tick({ id: "w-9" })])).toBe(list);
  });

  test("a first resource report creates the resources object", () => {
    const [w] = applyWorkerTicks([workerFixture({ resources: null })], [tick({ cpu_percent: 12 })]);
    expect(w?.resources?.cpu_percent).toBe(12);
    const [v] = applyWorkerTicks(
      [workerFixture({ resources: null })],
      [tick({ cpu_percent: null, memory_used_bytes: null })],
    );
    expect(v?.resources).toBeNull();
  });

  test("the coarse status follows the coordinator's mapping", () => {
    expect(coarseStatus("training")).toBe("active");
    expect(coarseStatus("recovering")).toBe("active");
    expect(coarseStatus("idle")).toBe("idle");
    expect(coarseStatus("error")).toBe("failed");
    expect(coarseStatus("dead")).toBe("failed");
    expect(coarseStatus("initializing")).toBe("unknown");
    expect(coarseStatus("disconnecting")).toBe("unknown");
  });
});
