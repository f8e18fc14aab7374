import { join } from "node:path";
import {
  apiEventSchema,
  createTaskResponseSchema,
  dashboardResponseSchema,
  logsResponseSchema,
  stopTaskResponseSchema,
  type TaskResponse,
  taskResponseSchema,
  tasksResponseSchema,
} from "../../src/api/index.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { connect, status, type TestClient, WorkerStatus_State } from "../helpers/grpc-clients.js";
import { call, eventually, getParsed, SseClient } from "./http-client.js";

const { IDLE, TRAINING } = WorkerStatus_State;

/** The JSON of the first `name:` command in `commands`, if any. */
function command(commands: readonly string[], name: string): Record<string, unknown> | undefined {
  const found = commands.find((c) => c.startsWith(`${name}:`));
  return found === undefined
    ? undefined
    : (JSON.parse(found.slice(name.length + 1)) as Record<string, unknown>);
}

let dir: string;
let coordinator: CoordinatorProcess;
let client: TestClient;
let base: string;
let stream: SseClient;

async function start(): Promise<void> {
  coordinator = await startCoordinatorProcess(join(dir, "data"), [
    "--heartbeat-timeout-ms",
    "60000",
  ]);
  base = `http://${coordinator.http}`;
  client = connect(coordinator.grpc);
  stream = await SseClient.open(`${base}/api/events`);
}

async function stop(): Promise<void> {
  stream.close();
  client.close();
  expect(await coordinator.stop()).toBe(0);
}

const task = (id: string) => getParsed(base, `/api/tasks/${id}`, taskResponseSchema);

/** Waits for the task's `task_status_changed` event to `to`. */
function statusEvent(taskId: string, to: string) {
  return stream.next((m) => {
    if (m.event !== "coordinator") return false;
    const e = apiEventSchema.parse(JSON.parse(m.data));
    return e.type === "task_status_changed" && e.task_id === taskId && e.data.to === to;
  });
}

async function create(body: Record<string, unknown>): Promise<string> {
  const answer = await call(base, "/api/tasks", { body });
  expect(answer.status).toBe(201);
  const { task_id } = createTaskResponseSchema.parse(answer.body);
  expect(answer.headers.get("location")).toBe(`/api/tasks/${task_id}`);
  return task_id;
}

beforeAll(async () => {
  dir = makeTempDir();
  await start();
  for (const id of ["t-0", "t-1", "t-2"]) await client.registerWorker({ workerId: id });
  for (const id of ["t-0", "t-1"]) await client.heartbeat({ workerId: id, status: status(IDLE) });
  await client.registerDataset({ datasetId: "imagenet", totalSamples: 1_000n, shardSize: 10n });
});

afterAll(async () => {
  await stop();
  removeDir(dir);
});

test("a task reaches idle workers as start_task, runs with their steps, and stops with stop_task", async () => {
  const id = await create({
    name: "resnet",
    type: "train",
    dataset_id: "imagenet",
    worker_count: 2,
    config: { total_steps: 10, lr: 0.1, layers: [1, 2] },
  });
  const pending = await task(id);
  expect(pending).toMatchObject({
    status: "pending",
    worker_ids: ["t-0", "t-1"],
    progress: 0,
    total_steps: 10,
    dataset_id: "imagenet",
  });
  expect(pending.logs.some((line) => /^\[\d\d:\d\d:\d\d\] task .* created/.test(line))).toBe(true);

  // The start command reaches each worker in its next heartbeat, exactly once.
  for (const worker of ["t-0", "t-1"]) {
    const beat = await client.heartbeat({ workerId: worker, status: status(IDLE) });
    expect(command(beat.pendingCommands, "start_task")).toEqual({
      task_id: id,
      name: "resnet",
      type: "train",
      dataset_id: "imagenet",
      worker_ids: ["t-0", "t-1"],
      config: { total_steps: 10, lr: 0.1, layers: [1, 2] },
    });
    const again = await client.heartbeat({ workerId: worker, status: status(IDLE) });
    expect(command(again.pendingCommands, "start_task")).toBeUndefined();
  }

  // Workers report it: running, progress from the lowest step.
  const running = statusEvent(id, "running");
  await client.heartbeat({ workerId: "t-0", status: status(TRAINING, 5, 0, id) });
  await client.heartbeat({ workerId: "t-1", status: status(TRAINING, 3, 0, id) });
  await running;
  const progressed = await eventually(async () => {
    const t = await task(id);
    return t.current_step === 3 ? t : undefined;
  }, "progress 30%");
  expect(progressed).toMatchObject({ status: "running", progress: 30 });
  expect(progressed.started_at).toBeGreaterThanOrEqual(pending.created_at);

  // Stop: recorded, then stop_task to both workers; stopped once neither runs it.
  const stopping = statusEvent(id, "stopping");
  const stopAnswer = await call(base, `/api/tasks/${id}/stop`, { method: "POST" });
  expect(stopTaskResponseSchema.parse(stopAnswer.body)).toEqual({ success: true });
  await stopping;
  expect((await task(id)).status).toBe("stopping");
  const stopped = statusEvent(id, "stopped");
  for (const worker of ["t-0", "t-1"]) {
    const beat = await client.heartbeat({ workerId: worker, status: status(TRAINING, 6, 0, id) });
    expect(command(beat.pendingCommands, "stop_task")).toEqual({ task_id: id });
    await client.heartbeat({ workerId: worker, status: status(IDLE, 6, 0, id) });
  }
  await stopped;
  const done = await task(id);
  expect(done).toMatchObject({ status: "stopped" });
  expect(done.completed_at).not.toBeNull();
  expect(done.stopped_at).not.toBeNull();
  // Stopping again is fine.
  expect((await call(base, `/api/tasks/${id}/stop`, { method: "POST" })).status).toBe(200);

  // Its log is its real events: its own, and its workers' while they ran it.
  const logs = await getParsed(base, `/api/tasks/${id}/logs`, logsResponseSchema);
  expect(logs.every((l) => l.task_id === id)).toBe(true);
  const messages = logs.map((l) => l.message).join("\n");
  expect(messages).toContain("pending → running");
  expect(messages).toContain("running → stopping");
  expect(messages).toContain("stopping → stopped");
  expect(messages).toContain("worker t-0: idle → training");
  expect(logs.map((l) => l.timestamp)).toEqual(
    [...logs.map((l) => l.timestamp)].sort((a, b) => a - b),
  );
});

test("a task completes when every worker reports it finished; progress is 100", async () => {
  // The dashboard is served from a copy rebuilt once a second; a task written through the API
  // shows at once all the same.
  const before = await call(base, "/api/dashboard");
  expect((before.body as { tasks: TaskResponse[] }).tasks).toHaveLength(1);
  const id = await create({
    name: "eval",
    type: "evaluate",
    dataset_id: "",
    worker_count: 1,
    config: {},
  });
  expect((await task(id)).worker_ids).toEqual(["t-0"]);
  const beat = await client.heartbeat({ workerId: "t-0", status: status(IDLE, 6, 0, "") });
  expect(command(beat.pendingCommands, "start_task")?.task_id).toBe(id);
  const completed = statusEvent(id, "completed");
  await client.heartbeat({ workerId: "t-0", status: status(TRAINING, 1, 0, id) });
  await client.heartbeat({ workerId: "t-0", status: status(IDLE, 2, 0, id) });
  const listed = await call(base, "/api/dashboard");
  expect((listed.body as { tasks: TaskResponse[] }).tasks.map((t) => t.id)).toContain(id);
  await completed;
  expect(await task(id)).toMatchObject({ status: "completed", progress: 100, total_steps: null });
  const list = await getParsed(base, "/api/tasks", tasksResponseSchema);
  expect(list.map((t: TaskResponse) => t.id).slice(0, 2)).toEqual([id, expect.any(String)]);
  const dashboard = dashboardResponseSchema.parse(
    (await eventually(async () => {
      const answer = await call(base, "/api/dashboard");
      const body = answer.body as { tasks: TaskResponse[] };
      return body.tasks.find((t) => t.id === id)?.status === "completed" ? body : undefined;
    }, "the dashboard's copy to show the completed task (at most 1.5 s old)")) as unknown,
  );
  expect(dashboard.tasks[0]?.progress).toBe(100);
});

test("a task waits for idle workers, and start commands are sent again after a restart", async () => {
  const id = await create({
    name: "big",
    type: "train",
    dataset_id: "",
    worker_count: 3,
    config: {},
  });
  const waiting = await task(id);
  expect(waiting.status).toBe("pending");
  expect(waiting.worker_ids).toEqual(["t-0", "t-1"]); // t-2 has not said it is idle
  expect(waiting.logs.join("\n")).toContain("waiting for 1 more idle worker");

  const added = stream.next((m) => m.data.includes("start sent to t-2"));
  await client.heartbeat({ workerId: "t-2", status: status(IDLE) });
  await added;
  expect((await task(id)).worker_ids).toEqual(["t-0", "t-1", "t-2"]);

  // Nobody heartbeated since: the commands are queued in memory only. Restart.
  await stop();
  await start();
  const restored = await task(id);
  expect(restored).toMatchObject({ status: "pending", worker_ids: ["t-0", "t-1", "t-2"] });
  expect(restored.logs.join("\n")).toContain("sent again after a coordinator restart");
  for (const worker of ["t-0", "t-1", "t-2"]) {
    const beat = await client.heartbeat({ workerId: worker, status: status(IDLE) });
    expect(command(beat.pendingCommands, "start_task")?.task_id).toBe(id);
  }
  // Earlier tasks kept their outcome.
  const statuses = (await getParsed(base, "/api/tasks", tasksResponseSchema)).map((t) => t.status);
  expect(statuses).toEqual(["pending", "completed", "stopped"]);
});
