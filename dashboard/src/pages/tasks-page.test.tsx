import { fireEvent, screen, waitFor } from "@testing-library/react";
import {
  datasetFixture,
  eventFixture,
  taskFixture,
  workerFixture,
} from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";

const baseRoutes = () => ({
  "GET /api/datasets": [datasetFixture()],
  "GET /api/workers": [
    workerFixture({ state: "idle", status: "idle" as const }),
    workerFixture({ id: "w-1", rank: 1 }),
  ],
});

describe("tasks page", () => {
  test("the form names each bad field and sends nothing until they are fixed", async () => {
    const { requests } = renderApp("/tasks", { ...baseRoutes(), "GET /api/tasks": [] });
    await screen.findByText("No tasks yet");
    expect(await screen.findByText("1 idle now; the task waits for more.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Workers"), { target: { value: "0" } });
    fireEvent.change(screen.getByLabelText("Config (JSON object)"), {
      target: { value: "{lr: 1}" },
    });
    fireEvent.change(screen.getByLabelText("Total steps"), { target: { value: "-5" } });
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(await screen.findByText("Name: required")).toBeTruthy();
    expect(screen.getByText("Workers: a whole number, at least 1")).toBeTruthy();
    expect(screen.getByText(/^Config: not valid JSON/)).toBeTruthy();
    expect(screen.getByText("Total steps: a whole number, at least 1 (or empty)")).toBeTruthy();
    expect(requests.some((r) => r.method === "POST")).toBe(false);
  });

  test("creates a task and opens its page to follow it", async () => {
    let tasks = [] as ReturnType<typeof taskFixture>[];
    const { requests, router } = renderApp("/tasks", {
      ...baseRoutes(),
      "GET /api/tasks": () => tasks,
      "GET /api/tasks/task_new/logs": [],
      "POST /api/tasks": (request) => {
        tasks = [
          taskFixture({ id: "task_new", name: "resnet", status: "pending", worker_ids: [] }),
        ];
        expect(request.body).toEqual({
          name: "resnet",
          type: "train",
          dataset_id: "imagenet",
          worker_count: 2,
          config: { batch_size: 32, total_steps: 500 },
        });
        return { status: 201, body: { task_id: "task_new" } };
      },
    });
    await screen.findByText("No tasks yet");
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: " resnet " } });
    await screen.findByRole("option", { name: /imagenet/ });
    fireEvent.change(screen.getByLabelText("Dataset"), { target: { value: "imagenet" } });
    fireEvent.change(screen.getByLabelText("Workers"), { target: { value: "2" } });
    fireEvent.change(screen.getByLabelText("Total steps"), { target: { value: "500" } });
    fireEvent.change(screen.getByLabelText("Config (JSON object)"), {
      target: { value: '{"batch_size": 32}' },
    });
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    await waitFor(() => expect(router.state.location.pathname).toBe("/tasks/task_new"));
    expect(await screen.findByRole("heading", { level: 1, name: /resnet/ })).toBeTruthy();
    expect(requests.filter((r) => r.method === "POST")).toHaveLength(1);
  });

  test("an API validation error shows at its field", async () => {
    renderApp("/tasks", {
      ...baseRoutes(),
      "GET /api/tasks": [],
      "POST /api/tasks": {
        status: 400,
        body: {
          code: "invalid_argument",
          message: "dataset_id: no dataset named imagenet",
          field: "dataset_id",
        },
      },
    });
    await screen.findByText("No tasks yet");
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    const message = await screen.findByText("dataset_id: no dataset named imagenet");
    expect(screen.getByLabelText("Dataset").getAttribute("aria-describedby")).toBe(message.id);
  });

  test("a running task is stopped after a confirmation, and its status follows the stream", async () => {
    let status: "running" | "stopped" = "running";
    const { requests, live } = renderApp("/tasks/task_1a2b3c4d", {
      ...baseRoutes(),
      "GET /api/tasks": () => [
        taskFixture({ status, stopped_at: status === "stopped" ? Date.now() : null }),
      ],
      "GET /api/tasks/task_1a2b3c4d/logs": [],
      "POST /api/tasks/task_1a2b3c4d/stop": { success: true },
    });
    fireEvent.click(await screen.findByRole("button", { name: "Stop task resnet-50" }));
    expect(requests.some((r) => r.path.endsWith("/stop"))).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Confirm stop" }));
    await waitFor(() =>
      expect(
        requests.some((r) => r.method === "POST" && r.path === "/api/tasks/task_1a2b3c4d/stop"),
      ).toBe(true),
    );
    status = "stopped";
    live.onEvent(
      eventFixture({ type: "task_status_changed", task_id: "task_1a2b3c4d", worker_id: null }),
    );
    expect(await screen.findByText("stopped")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Stop task resnet-50" })).toBeNull();
    live.dispose();
  });
});
