import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import {
  eventFixture,
  NOW,
  statusFixture,
  workerFixture,
} from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";

const workers = [
  workerFixture({ id: "w-0", rank: 0 }),
  workerFixture({ id: "w-1", rank: 1, last_heartbeat: NOW - 4_000, current_step: 999 }),
  workerFixture({
    id: "w-2",
    rank: 2,
    state: "dead",
    alive: false,
    status: "failed",
    last_heartbeat: NOW - 20_000,
  }),
];

function rowOf(id: string): HTMLElement {
  const row = screen.getByRole("link", { name: id }).closest("tr");
  if (row === null) throw new Error(`no row for ${id}`);
  return row;
}

describe("workers page", () => {
  test("lists every worker with state, ticking heartbeat age, step, shards, CPU, memory, GPUs", async () => {
    renderApp("/workers", { "GET /api/workers": workers, "GET /api/status": statusFixture() });
    const row = await waitFor(() => rowOf("w-1"));
    const cells = within(row)
      .getAllByRole("cell")
      .map((c) => c.textContent);
    expect(cells).toEqual([
      "1",
      "w-1",
      "Training",
      "4s",
      "999",
      "1",
      "4.50",
      "12",
      "180%",
      "12 GiB / 64 GiB",
      "2 · 85%",
      "node-a",
      "—",
    ]);
    expect(screen.getByText("2 live · 1 dead · 3 known")).toBeTruthy();
  });

  test("dead workers stand out and can be filtered", async () => {
    const { router } = renderApp("/workers", {
      "GET /api/workers": workers,
      "GET /api/status": statusFixture(),
    });
    await waitFor(() => rowOf("w-2"));
    expect(rowOf("w-2").className).toMatch(/bg-red-50/);
    expect(rowOf("w-0").className).not.toMatch(/bg-red/);
    expect(within(rowOf("w-2")).getByText("Dead")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("State"), { target: { value: "gone" } });
    await waitFor(() => expect(screen.queryByRole("link", { name: "w-0" })).toBeNull());
    expect(rowOf("w-2")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("State"), { target: { value: "" } });
    fireEvent.change(screen.getByLabelText("Search"), { target: { value: "w-1" } });
    await waitFor(() => expect(screen.queryByRole("link", { name: "w-2" })).toBeNull());
    expect(screen.getByText("Showing 1 of 3")).toBeTruthy();
    // Filters live in the URL, so a link shows the same view.
    expect(router.state.location.search).toBe("?q=w-1");
  });

  test("a worker that left (deregistered) is shown as left, in grey, and not counted as dead", async () => {
    const leaver = workerFixture({
      id: "w-3",
      rank: 3,
      state: "dead",
      alive: false,
      left: true,
      status: "failed",
      last_heartbeat: NOW - 30_000,
    });
    renderApp("/workers", {
      "GET /api/workers": [...workers, leaver],
      "GET /api/status": statusFixture(),
    });
    await waitFor(() => rowOf("w-3"));
    expect(within(rowOf("w-3")).getByText("Left")).toBeTruthy();
    expect(within(rowOf("w-3")).queryByText("Dead")).toBeNull();
    expect(rowOf("w-3").className).not.toMatch(/bg-red/);
    expect(screen.getByText("2 live · 1 dead · 4 known")).toBeTruthy();
  });

  test("a tick updates rows in place; a registration refetches the list", async () => {
    let answer = workers;
    const { live, requests } = renderApp("/workers", {
      "GET /api/workers": () => answer,
      "GET /api/status": statusFixture(),
    });
    await waitFor(() => rowOf("w-0"));
    live.onTick({
      at: NOW,
      sample: {},
      workers: [
        {
          id: "w-0",
          state: "dead",
          alive: false,
          last_heartbeat: NOW - 16_000,
          current_step: 1500,
          current_epoch: 2,
          current_task: "",
          step_rate: null,
          samples_consumed: 0,
          cpu_percent: null,
          memory_used_bytes: null,
        },
      ],
    });
    await waitFor(() => expect(within(rowOf("w-0")).getByText("Dead")).toBeTruthy());
    expect(within(rowOf("w-0")).getByText("1,500")).toBeTruthy();
    expect(rowOf("w-0").className).toMatch(/bg-red-50/);

    const before = requests.filter((r) => r.path === "/api/workers").length;
    answer = [...workers, workerFixture({ id: "w-3", rank: 3 })];
    live.onEvent(eventFixture({ type: "worker_registered", worker_id: "w-3" }));
    await waitFor(() => expect(screen.getByRole("link", { name: "w-3" })).toBeTruthy());
    expect(requests.filter((r) => r.path === "/api/workers").length).toBe(before + 1);
    live.dispose();
  });

  test("sorting by a column header, announced with aria-sort", async () => {
    renderApp("/workers", { "GET /api/workers": workers, "GET /api/status": statusFixture() });
    await waitFor(() => rowOf("w-0"));
    const stepHeader = screen.getByRole("button", { name: "Step" });
    fireEvent.click(stepHeader);
    await waitFor(() => expect(stepHeader.closest("th")?.getAttribute("aria-sort")).not.toBeNull());
    const ids = () =>
      screen
        .getAllByRole("link")
        .map((a) => a.textContent)
        .filter((t) => /^w-\d$/.test(t ?? ""));
    const sorted = stepHeader.closest("th")?.getAttribute("aria-sort");
    expect(ids()).toEqual(sorted === "ascending" ? ["w-1", "w-0", "w-2"] : ["w-0", "w-2", "w-1"]);
  });

  test("an empty cluster says so instead of showing anything made up", async () => {
    renderApp("/workers", { "GET /api/workers": [], "GET /api/status": statusFixture() });
    expect(await screen.findByText("No workers yet")).toBeTruthy();
  });

  test("a coordinator that wants its token sends the user to sign in", async () => {
    renderApp("/workers", {
      "GET /api/workers": {
        status: 401,
        body: { code: "unauthenticated", message: "missing token" },
      },
      "GET /api/status": {
        status: 401,
        body: { code: "unauthenticated", message: "missing token" },
      },
    });
    expect(await screen.findByRole("link", { name: "Sign in on the settings page" })).toBeTruthy();
  });
});
