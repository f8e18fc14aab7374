import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinator,
  waitFor,
} from "./helpers/coordinator-process.js";
import { startWorker, type WorkerEvent, type WorkerProcess } from "./helpers/worker-process.js";

// strata-worker --wait-for-task: idle until POST /api/tasks hands it a task through a heartbeat
// command, trains it (reporting the task id, TRAINING and its step), stops on the task's stop,
// and then reports IDLE with the task id, as proto/README.md describes.
jest.setTimeout(90_000);

interface ApiWorker {
  id: string;
  state: string;
  current_task: string;
  current_step: number;
  alive: boolean;
  resources: { cpu_percent: number; memory_used_bytes: number; gpus: unknown[] } | null;
}
interface ApiTask {
  id: string;
  status: string;
  progress: number;
  current_step: number;
}

let coordinator: CoordinatorProcess;
let dir: string;
const processes: WorkerProcess[] = [];

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`http://${coordinator.http}${path}`, {
    ...init,
    headers: { "content-type": "application/json", ...init?.headers },
  });
  if (!response.ok)
    throw new Error(
      `${init?.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`,
    );
  return (await response.json()) as T;
}

beforeAll(async () => {
  dir = makeTempDir("strata-tasks-");
  coordinator = await startCoordinator(join(dir, "coordinator"), {
    args: ["--heartbeat-timeout-ms", "3000"],
  });
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill("SIGKILL")));
  await coordinator.stop();
  removeDir(dir);
});

test("idle workers take a task, train it, stop it on request, report it finished, and complete one by its total_steps", async () => {
  const events: WorkerEvent[] = [];
  for (const id of ["t-0", "t-1"]) {
    processes.push(
      startWorker(
        id,
        [
          "--coordinator",
          coordinator.grpc,
          "--wait-for-task",
          "--data-dir",
          join(dir, "data"),
          "--samples",
          "4000",
          "--shard-size",
          "100",
          "--step-delay-ms",
          "20",
          "--checkpoint-every",
          "20",
          "--heartbeat-interval-ms",
          "200",
          "--health-file",
          join(dir, `${id}.health.json`),
        ],
        events,
      ),
    );
  }
  await Promise.all(
    processes.map((p) => p.waitFor("waiting", (e) => e.event === "waiting_for_task")),
  );
  await waitFor("two idle workers", async () => {
    const workers = await api<ApiWorker[]>("/api/workers");
    return workers.filter((w) => w.state === "idle").length === 2;
  });

  // A task that runs until stopped.
  const { task_id } = await api<{ task_id: string }>("/api/tasks", {
    method: "POST",
    body: JSON.stringify({
      name: "long",
      type: "train",
      dataset_id: "",
      worker_count: 2,
      config: { total_steps: 100_000 },
    }),
  });
  await Promise.all(
    processes.map((p) =>
      p.waitFor("the task", (e) => e.event === "task_started" && e.taskId === task_id),
    ),
  );
  await waitFor(
    "the task reported running",
    async () => {
      const workers = await api<ApiWorker[]>("/api/workers");
      return workers.every(
        (w) => w.state === "training" && w.current_task === task_id && w.current_step > 5,
      );
    },
    20_000,
  );
  await waitFor(
    "the task running",
    async () => (await api<ApiTask>(`/api/tasks/${task_id}`)).status === "running",
  );
  // Real resource usage rides on the heartbeats.
  for (const w of await api<ApiWorker[]>("/api/workers")) {
    expect(w.resources?.memory_used_bytes).toBeGreaterThan(0);
    expect(w.resources?.cpu_percent).toBeGreaterThanOrEqual(0);
  }

  await api(`/api/tasks/${task_id}/stop`, { method: "POST", body: "{}" });
  await Promise.all(
    processes.map((p) =>
      p.waitFor("the stop", (e) => e.event === "task_done" && e.taskId === task_id),
    ),
  );
  await waitFor("IDLE with the task id", async () => {
    const workers = await api<ApiWorker[]>("/api/workers");
    return workers.every((w) => w.state === "idle" && w.current_task === task_id);
  });
  await waitFor(
    "the task stopped",
    async () => (await api<ApiTask>(`/api/tasks/${task_id}`)).status === "stopped",
  );
  const checkpoints = events.filter((e) => e.event === "checkpoint" && e.taskId === task_id);
  expect(checkpoints.length).toBeGreaterThan(0);

  // A task with a step budget completes on its own.
  const short = await api<{ task_id: string }>("/api/tasks", {
    method: "POST",
    body: JSON.stringify({
      name: "short",
      type: "train",
      dataset_id: "",
      worker_count: 2,
      config: { total_steps: 30 },
    }),
  });
  await Promise.all(
    processes.map((p) =>
      p.waitFor(
        "the short task done",
        (e) => e.event === "task_done" && e.taskId === short.task_id,
      ),
    ),
  );
  await waitFor("the task completed", async () => {
    const task = await api<ApiTask>(`/api/tasks/${short.task_id}`);
    return task.status === "completed" && task.progress === 100;
  });

  // The health file tracks acknowledged heartbeats.
  const health = JSON.parse(readFileSync(join(dir, "t-0.health.json"), "utf8")) as {
    lastHeartbeatMs: number;
    workerId: string;
  };
  expect(health.workerId).toBe("t-0");
  expect(Date.now() - health.lastHeartbeatMs).toBeLessThan(10_000);

  // A stop command (here: SIGTERM) ends the process cleanly and deregisters it.
  for (const p of processes) p.child.kill("SIGTERM");
  expect(await Promise.all(processes.map((p) => p.exited))).toEqual([0, 0]);
  await waitFor("both deregistered", async () =>
    (await api<ApiWorker[]>("/api/workers")).every((w) => w.state === "dead" || !w.alive),
  );
});
