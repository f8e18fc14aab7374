import type { WorkerState } from "@strata/runtime-core";
import type { WorkerView } from "../engine/types.js";
import { deriveTaskStatus } from "./derive-task-status.js";
import type { StoredTask } from "./stored-task.js";

const task = (over: Partial<StoredTask> = {}): StoredTask => ({
  v: 1,
  id: "task_1",
  name: "t",
  type: "train",
  dataset_id: "",
  worker_count: 2,
  config: { total_steps: 100 },
  worker_ids: ["a", "b"],
  status: "pending",
  created_at: 1,
  started_at: null,
  completed_at: null,
  stopped_at: null,
  error: null,
  current_step: 0,
  reported_ids: [],
  finished_ids: [],
  ...over,
});

const worker = (id: string, state: WorkerState, currentTask = "", currentStep = 0): WorkerView =>
  ({ workerId: id, state, currentTask, currentStep }) as WorkerView;

const workers = (...list: WorkerView[]) => new Map(list.map((w) => [w.workerId, w]));

describe("deriveTaskStatus", () => {
  test("pending until a worker reports the task; then running with the lowest step", () => {
    expect(deriveTaskStatus(task(), workers(worker("a", "idle"), worker("b", "idle"))).status).toBe(
      "pending",
    );
    const running = deriveTaskStatus(
      task(),
      workers(worker("a", "training", "task_1", 30), worker("b", "loading_data", "task_1", 10)),
    );
    expect(running).toMatchObject({ status: "running", currentStep: 10 });
    expect(running.reportedIds.sort()).toEqual(["a", "b"]);
  });

  test("completed when every worker finished (IDLE with the id, or total_steps reached)", () => {
    const one = deriveTaskStatus(
      task(),
      workers(worker("a", "idle", "task_1"), worker("b", "training", "task_1", 50)),
    );
    expect(one.status).toBe("running");
    expect(one.finishedIds).toEqual(["a"]);
    const both = deriveTaskStatus(
      task({ finished_ids: ["a"] }),
      workers(worker("a", "training", "other"), worker("b", "training", "task_1", 100)),
    );
    expect(both.status).toBe("completed");
  });

  test("failed when a worker reports ERROR, or when its workers died before finishing", () => {
    const error = deriveTaskStatus(
      task(),
      workers(worker("a", "error", "task_1"), worker("b", "training", "task_1")),
    );
    expect(error).toMatchObject({ status: "failed", error: "worker a reported ERROR" });
    const dead = deriveTaskStatus(
      task({ reported_ids: ["a"] }),
      workers(worker("a", "dead", "task_1"), worker("b", "dead")),
    );
    expect(dead.status).toBe("failed");
    expect(dead.error).toContain("a, b");
    const gone = deriveTaskStatus(
      task({ finished_ids: ["a"] }),
      workers(worker("a", "idle", "task_1")),
    );
    expect(gone).toMatchObject({ status: "failed", error: "its workers died before finishing: b" });
    // One dead, one still working: not failed yet.
    expect(
      deriveTaskStatus(task(), workers(worker("a", "dead"), worker("b", "training", "task_1")))
        .status,
    ).toBe("running");
  });

  test("stopping until no worker runs it; final statuses never change", () => {
    const stopping = task({ status: "stopping" });
    expect(
      deriveTaskStatus(
        stopping,
        workers(worker("a", "training", "task_1"), worker("b", "idle", "task_1")),
      ).status,
    ).toBe("stopping");
    expect(
      deriveTaskStatus(stopping, workers(worker("a", "idle", "task_1"), worker("b", "dead")))
        .status,
    ).toBe("stopped");
    for (const status of ["completed", "stopped", "failed"] as const) {
      expect(
        deriveTaskStatus(task({ status }), workers(worker("a", "training", "task_1"))).status,
      ).toBe(status);
    }
  });

  test("a task with no workers yet stays pending", () => {
    expect(deriveTaskStatus(task({ worker_ids: [] }), workers()).status).toBe("pending");
  });
});
