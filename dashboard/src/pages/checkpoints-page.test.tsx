import { screen, waitFor, within } from "@testing-library/react";
import { checkpointFixture, eventFixture, NOW } from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";

const checkpoints = [
  // Deliberately oldest first: the page must show the newest first whatever the order.
  checkpointFixture({
    step: 100,
    created_at: NOW - 300_000,
    completed_at: NOW - 299_000,
    size: 1536,
  }),
  checkpointFixture({
    step: 200,
    created_at: NOW - 200_000,
    completed_at: NOW - 190_000,
    size: 650 * 1024 * 1024,
  }),
  checkpointFixture({
    step: 300,
    created_at: NOW - 5_000,
    status: "in_progress",
    ranks_reported: 1,
    ranks_expected: 4,
    completed_at: null,
    size: 5 * 1024 ** 3,
  }),
];

describe("checkpoints page", () => {
  test("newest first, true sizes in binary units, ranks reported out of expected", async () => {
    renderApp("/checkpoints", { "GET /api/checkpoints": checkpoints });
    const table = await screen.findByTestId("checkpoints-table");
    const rows = within(table).getAllByRole("row").slice(1);
    const steps = rows.map((row) => within(row).getAllByRole("cell")[1]?.textContent);
    expect(steps).toEqual(["300", "200", "100"]);
    expect(within(rows[1] as HTMLElement).getByText("650 MiB")).toBeTruthy();
    expect(within(rows[2] as HTMLElement).getByText("1.5 KiB")).toBeTruthy();
    expect(within(rows[0] as HTMLElement).getByText("5.0 GiB")).toBeTruthy();
    expect(within(rows[0] as HTMLElement).getByText("1 of 4")).toBeTruthy();
    expect(within(rows[0] as HTMLElement).getByText("reported, waiting for ranks")).toBeTruthy();
    expect(within(rows[1] as HTMLElement).getByText("10s after first report")).toBeTruthy();
    expect(screen.queryByText(/TB|MB\b/)).toBeNull();
  });

  test("a recorded checkpoint appears through the live stream", async () => {
    let answer = checkpoints.slice(0, 1);
    const { live } = renderApp("/checkpoints", { "GET /api/checkpoints": () => answer });
    await screen.findByTestId("checkpoints-table");
    answer = checkpoints;
    live.onEvent(eventFixture({ type: "checkpoint_recorded", job_id: "resnet" }));
    await waitFor(() => expect(screen.getByText("650 MiB")).toBeTruthy());
    live.dispose();
  });

  test("no checkpoints: says so", async () => {
    renderApp("/checkpoints", { "GET /api/checkpoints": [] });
    expect(await screen.findByText("No checkpoints yet")).toBeTruthy();
  });

  test("detail lists each rank's part and the missing ranks", async () => {
    renderApp("/checkpoints/resnet/300", {
      "GET /api/checkpoints/resnet/300": {
        checkpoint: checkpoints[2],
        parts: [
          {
            rank: 0,
            worker_id: "w-0",
            checkpoint_id: "c-300-0",
            size: 5 * 1024 ** 3,
            path: "/ckpt/resnet/300/rank-0",
            recorded_at: NOW - 5_000,
            kind: "full",
            metadata: {},
          },
        ],
        missing_ranks: [1, 2, 3],
      },
    });
    expect(await screen.findByText("1 of 4 reported")).toBeTruthy();
    expect(screen.getByText("1, 2, 3")).toBeTruthy();
    expect(screen.getAllByText("not reported yet")).toHaveLength(3);
    expect(
      screen.getByText(`5.0 GiB (${(5 * 1024 ** 3).toLocaleString("en-US")} bytes)`),
    ).toBeTruthy();
  });
});
