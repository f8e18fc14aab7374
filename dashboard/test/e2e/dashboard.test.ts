// End-to-end: the built dashboard in real Chromium (playwright-core driving Debian's chromium),
// served by a real coordinator process, with real client-SDK workers (in this process through
// connectWorker, and as strata-worker processes that are SIGKILLed). One coordinator and one
// browser for the whole file, in order; the last test restarts the coordinator. Screenshots of
// every page land in dashboard/test-artifacts/ (git-ignored) for people to look at.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectWorker, openWorkerCheckpoints, type StrataWorker } from "@strata/client-sdk";
import type {
  CheckpointsResponse,
  HistoryResponse,
  TasksResponse,
  WorkerHistoryResponse,
} from "@strata/coordinator/api";
import type { Browser, Page } from "playwright-core";
import { formatBytes } from "../../src/format.js";
import { launchChromium } from "./helpers/chromium.js";
import { type CoordinatorProcess, startCoordinator } from "./helpers/coordinator-process.js";
import { ARTIFACTS_DIR } from "./helpers/repo-paths.js";
import { startWorker, type WorkerProcess } from "./helpers/worker-process.js";

const HEARTBEAT_TIMEOUT_MS = 2_000;
// Each test waits on events with its own bounds; these are only the outer limits.
jest.setTimeout(60_000);

let dir: string;
let coordinator: CoordinatorProcess;
let browser: Browser;
let page: Page;
let joiner: StrataWorker | undefined;
const processes: WorkerProcess[] = [];
let taskId = "";

async function api<T>(path: string): Promise<T> {
  const response = await fetch(`${coordinator.url}${path}`);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });
}

async function waitLive(): Promise<void> {
  await page
    .locator('[data-testid="connection-state"][data-status="live"]')
    .waitFor({ timeout: 10_000 });
}

/** The workers table row of a worker. */
const workerRow = (id: string) => page.locator(`tr[data-row-id="${id}"]`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "strata-dashboard-e2e-"));
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  coordinator = await startCoordinator({
    dataDir: join(dir, "coordinator"),
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
  });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
}, 60_000);

afterAll(async () => {
  await joiner?.close().catch(() => undefined);
  await Promise.all(processes.map((p) => p.kill()));
  await browser?.close();
  await coordinator?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

test("a registering worker appears within a second", async () => {
  await page.goto(`${coordinator.url}/workers`);
  await waitLive();
  joiner = await connectWorker({
    addresses: coordinator.grpc,
    workerId: "e2e-joiner",
    hostname: "e2e-host",
    resources: false,
  });
  const registeredAt = Date.now();
  await workerRow("e2e-joiner").waitFor({ timeout: 1_000 });
  expect(Date.now() - registeredAt).toBeLessThanOrEqual(1_000);
  await expect(workerRow("e2e-joiner").textContent()).resolves.toContain("e2e-host");
});

test("a killed worker is shown dead within the heartbeat timeout plus a second", async () => {
  // A training worker (its own dataset), busy stepping until it is killed.
  const victim = startWorker([
    "--coordinator",
    coordinator.grpc,
    "--worker-id",
    "e2e-victim",
    "--data-dir",
    join(dir, "victim"),
    "--dataset-id",
    "victim-data",
    "--samples",
    "2000",
    "--epochs",
    "0",
    "--step-delay-ms",
    "50",
  ]);
  processes.push(victim);
  await victim.waitFor("started");
  const row = workerRow("e2e-victim");
  await row.getByText(/^(Training|Loading data|Checkpointing)$/).waitFor({ timeout: 5_000 });
  expect(victim.ended).toBe(false);
  await victim.kill();
  const killedAt = Date.now();
  await row.getByText("Dead", { exact: true }).waitFor({ timeout: HEARTBEAT_TIMEOUT_MS + 1_000 });
  expect(Date.now() - killedAt).toBeLessThanOrEqual(HEARTBEAT_TIMEOUT_MS + 1_000);
  await expect(row.getAttribute("class")).resolves.toMatch(/bg-red/);
  await shot("workers-with-dead");
});

test("a checkpoint appears with its true size", async () => {
  await page.goto(`${coordinator.url}/checkpoints`);
  await waitLive();
  if (joiner === undefined) throw new Error("the registration test did not run");
  mkdirSync(join(dir, "checkpoints"));
  const checkpoints = await openWorkerCheckpoints(joiner, {
    storage: join(dir, "checkpoints"),
    jobId: "e2e-job",
  });
  try {
    // 24 MiB + 12 bytes of state: the original dashboard would have shown a size a million times too big.
    const weights = new Float32Array((24 * 1024 * 1024) / 4 + 3).fill(0.5);
    const saved = await checkpoints.save({ step: 42, epoch: 1, buffers: { weights } });
    const { ref } = await saved.committed;
    const recorded = await api<CheckpointsResponse>("/api/checkpoints?job_id=e2e-job");
    expect(recorded[0]?.size).toBe(ref.totalSizeBytes);
    expect(ref.totalSizeBytes).toBeGreaterThanOrEqual(weights.byteLength);
    const row = page.locator('tr[data-row-id="e2e-job:42"]');
    await row.waitFor({ timeout: 2_000 });
    const text = await row.textContent();
    expect(text).toContain(formatBytes(ref.totalSizeBytes));
    expect(formatBytes(ref.totalSizeBytes)).toMatch(/^24 MiB$/);
    expect(text).toContain("1 of 1");
    expect(text).toContain("complete");
    await shot("checkpoints");
    await row.getByRole("link", { name: "e2e-job" }).click();
    await page.getByText("1 of 1 reported").waitFor();
    await shot("checkpoint-detail");
  } finally {
    await checkpoints.close();
  }
});

test("a task created in the UI reaches the workers and is stopped from the UI", async () => {
  const tasker = startWorker([
    "--coordinator",
    coordinator.grpc,
    "--worker-id",
    "e2e-tasker",
    "--data-dir",
    join(dir, "tasker"),
    "--samples",
    "4000",
    "--step-delay-ms",
    "20",
    "--wait-for-task",
  ]);
  processes.push(tasker);
  await tasker.waitFor("waiting_for_task");
  await page.goto(`${coordinator.url}/tasks`);
  await waitLive();
  await page.getByText("1 idle now", { exact: false }).waitFor({ timeout: 5_000 });
  // The form checks its fields before sending.
  await page.getByRole("button", { name: "Create task" }).click();
  await page.getByText("Name: required").waitFor();
  await page.getByLabel("Name").fill("e2e-train");
  await page.getByLabel("Config (JSON object)").fill('{"epochs": 1000}');
  await page.getByRole("button", { name: "Create task" }).click();
  await page.waitForURL(/\/tasks\/[^/]+$/);
  taskId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
  const started = await tasker.waitFor("task_started", (line) => line.taskId === taskId);
  expect(started.name).toBe("e2e-train");
  await page.getByText("running", { exact: true }).waitFor({ timeout: 5_000 });
  await page.getByText("e2e-tasker").first().waitFor();
  await shot("task-running");
  await page.getByRole("button", { name: "Stop task e2e-train" }).click();
  await page.getByRole("button", { name: "Confirm stop" }).click();
  const done = await tasker.waitFor("task_done", (line) => line.taskId === taskId);
  expect(done.stopped).toBe(true);
  await page.getByText("stopped", { exact: true }).waitFor({ timeout: 5_000 });
  const tasks = await api<TasksResponse>("/api/tasks");
  expect(tasks.find((t) => t.id === taskId)).toMatchObject({
    status: "stopped",
    worker_ids: ["e2e-tasker"],
  });
  await shot("task-stopped");
});

test("barriers show live arrivals and who is missing", async () => {
  if (joiner === undefined) throw new Error("the registration test did not run");
  await page.goto(`${coordinator.url}/barriers`);
  await waitLive();
  const waiting = joiner
    .barrier("e2e-sync", { step: 7, barrierTimeoutMs: 60_000 })
    .catch((error: unknown) => error);
  const card = page.getByTestId("barrier-e2e-sync");
  await card.waitFor({ timeout: 2_000 });
  await card.getByText("1 of 2 arrived").waitFor();
  await card.getByRole("link", { name: "e2e-tasker" }).waitFor();
  await shot("barriers");
  void waiting;
});

test("every page renders real data without errors, in light and dark, wide and narrow", async () => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  const pages: [string, string, string][] = [
    ["overview", "/", "Overview"],
    ["workers", "/workers", "Workers"],
    ["worker-detail", "/workers/e2e-tasker", "e2e-tasker"],
    ["datasets", "/datasets", "Datasets"],
    ["dataset-detail", "/datasets/synthetic", "synthetic"],
    ["checkpoints", "/checkpoints", "Checkpoints"],
    ["barriers", "/barriers", "Barriers"],
    ["tasks", "/tasks", "Tasks"],
    ["task-detail", `/tasks/${encodeURIComponent(taskId)}`, "e2e-train"],
    ["events", "/events", "Events & logs"],
    ["logs", "/events?view=logs", "Events & logs"],
    ["settings", "/settings", "Settings"],
  ];
  for (const [name, path, heading] of pages) {
    await page.goto(`${coordinator.url}${path}`);
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
    await waitLive();
    // Every region has loaded (their "Loading…" lines are gone) before the screenshot.
    await page
      .waitForFunction(
        () => !/Loading[^ ]*…/.test(document.querySelector("main")?.textContent ?? ""),
        undefined,
        {
          timeout: 10_000,
        },
      )
      .catch(async (error: Error) => {
        throw new Error(
          `${name} still loading: ${await page.locator("main").textContent()}\n${error.message}`,
        );
      });
    await shot(name);
  }
  await page.goto(`${coordinator.url}/workers`);
  await page.getByLabel("Search").fill("e2e-t");
  await workerRow("e2e-joiner").waitFor({ state: "detached" });
  await workerRow("e2e-tasker").waitFor();
  // Keyboard: on a fresh page the skip link is the first stop.
  await page.goto(`${coordinator.url}/workers`);
  await page.getByRole("heading", { level: 1, name: "Workers" }).waitFor();
  await page.keyboard.press("Tab");
  await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe(
    "Skip to content",
  );

  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(`${coordinator.url}/`);
  await waitLive();
  await expect(
    page.evaluate(() => document.documentElement.classList.contains("dark")),
  ).resolves.toBe(true);
  await shot("overview-dark");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${coordinator.url}/workers`);
  await waitLive();
  await shot("workers-narrow-dark");
  await page.getByRole("button", { name: "Open menu" }).click();
  await page
    .getByRole("navigation", { name: "Main" })
    .getByRole("link", { name: "Checkpoints" })
    .click();
  await page.getByRole("heading", { level: 1, name: "Checkpoints" }).waitFor();
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 2560, height: 1440 });
  await page.goto(`${coordinator.url}/`);
  await waitLive();
  await shot("overview-large-monitor");
  expect(errors).toEqual([]);
});

test("after a coordinator restart the charts still show the earlier history", async () => {
  await page.setViewportSize({ width: 1440, height: 900 });
  // The stopped task's training left steps in history.
  const before = await api<HistoryResponse>("/api/history?series=steps_per_second");
  const peak = Math.max(0, ...(before.series.steps_per_second ?? []).map((v) => v ?? 0));
  expect(peak).toBeGreaterThan(0);
  // The tasker has been alive for several 10-second sampling slots by now (bounded wait).
  const sampledBy = Date.now() + 15_000;
  for (;;) {
    const h = await api<WorkerHistoryResponse>("/api/workers/e2e-tasker/history");
    if (h.step.some((v) => v !== null)) break;
    if (Date.now() > sampledBy) throw new Error("e2e-tasker has no stored sample");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  await page.goto(`${coordinator.url}/`);
  await waitLive();
  await joiner?.close().catch(() => undefined);
  joiner = undefined;
  await Promise.all(processes.map((p) => p.kill()));
  const http = coordinator.http;
  await coordinator.stop();
  const restartedAt = Date.now();
  await page
    .locator('[data-testid="connection-state"]:not([data-status="live"])')
    .waitFor({ timeout: 10_000 });
  await shot("overview-coordinator-down");
  coordinator = await startCoordinator({
    dataDir: join(dir, "coordinator"),
    httpAddr: http,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
  });
  // The open page finds the restarted coordinator by itself.
  await waitLive();
  await page.reload();
  await waitLive();
  const chart = page.getByTestId("chart-steps-per-second");
  await page.waitForFunction(
    (at) => {
      const el = document.querySelector('[data-testid="chart-steps-per-second"]');
      return (
        el !== null &&
        Number(el.getAttribute("data-first-at")) > 0 &&
        Number(el.getAttribute("data-first-at")) < at
      );
    },
    restartedAt,
    { timeout: 10_000 },
  );
  expect(Number(await chart.getAttribute("data-peak"))).toBeGreaterThan(0);
  await shot("overview-after-restart");
  // A worker's page too: its stored samples outlive the restart (and its death).
  await page.goto(`${coordinator.url}/workers/e2e-tasker`);
  await waitLive();
  await page.waitForFunction(
    () =>
      Number(
        document
          .querySelector('section[aria-label="History"]')
          ?.getAttribute("data-stored-samples"),
      ) > 0,
    undefined,
    { timeout: 10_000 },
  );
  await shot("worker-detail-after-restart");
});

test("signing in with the token sets an HttpOnly session cookie; the token never reaches a URL", async () => {
  const token = "e2e-token-5f1c9a";
  const secured = await startCoordinator({
    dataDir: join(dir, "secured"),
    extraArgs: ["--auth-token", token],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const urls: string[] = [];
  try {
    const tab = await context.newPage();
    tab.on("request", (request) => urls.push(request.url()));
    await tab.goto(`${secured.url}/`);
    await tab
      .locator('[data-testid="connection-state"][data-status="unauthorized"]')
      .waitFor({ timeout: 10_000 });
    await tab.getByRole("link", { name: "Sign in", exact: true }).click();
    await tab.getByLabel("Token").fill("not-the-token");
    await tab.getByRole("button", { name: "Sign in" }).click();
    await tab.getByText("Token: the coordinator refused this token").waitFor();
    await tab.getByLabel("Token").fill(token);
    await tab.getByRole("button", { name: "Sign in" }).click();
    await tab.getByText(/^Signed in\./).waitFor();
    await tab
      .locator('[data-testid="connection-state"][data-status="live"]')
      .waitFor({ timeout: 10_000 });
    await tab.getByText("standalone").first().waitFor();
    await tab.screenshot({ path: join(ARTIFACTS_DIR, "settings-signed-in.png"), fullPage: true });
    const cookies = await context.cookies(secured.url);
    expect(cookies.length).toBeGreaterThan(0);
    expect(cookies.every((cookie) => cookie.httpOnly)).toBe(true);
    await expect(tab.evaluate(() => document.cookie)).resolves.not.toContain(token);
    await expect(tab.evaluate(() => JSON.stringify({ ...localStorage }))).resolves.not.toContain(
      token,
    );
    expect(urls.filter((url) => url.includes(token))).toEqual([]);
  } finally {
    await context.close();
    await secured.stop();
  }
});
