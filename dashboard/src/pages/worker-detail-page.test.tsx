import type {
  WorkerDetailResponse,
  WorkerHistoryResponse,
  WorkerResponse,
} from "@strata/coordinator/api";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import {
  eventFixture,
  NOW,
  statusFixture,
  workerFixture,
} from "../../test/fixtures/api-fixtures.js";
import type { RecordedRequest } from "../../test/fixtures/fake-fetch.js";
import { renderApp } from "../../test/fixtures/render-app.js";
import { plots } from "../../test/stubs/uplot-stub.js";

const GiB = 1024 ** 3;

/**
 * What the coordinator answers for `/api/workers/:id/history`: 10-second steps over the request's
 * window, a sample in every step ending at `lastSampleAt` (nothing after: a restart or a death).
 */
function historyAnswer(request: RecordedRequest, lastSampleAt: number): WorkerHistoryResponse {
  const from = Number(request.query.get("from"));
  const to = Number(request.query.get("to"));
  const timestamps: number[] = [];
  for (let t = from; t < to; t += 10_000) timestamps.push(t);
  const has = timestamps.map((t) => t <= lastSampleAt);
  const column = <T,>(value: T) => has.map((h) => (h ? value : null));
  return {
    worker_id: request.path.split("/")[3] ?? "",
    from,
    to,
    step_ms: 10_000,
    first_sample_at: timestamps[0] ?? null,
    last_sample_at: lastSampleAt,
    timestamps,
    step: has.map((h, i) => (h ? 100 * i : null)),
    epoch: column(1),
    state: column("training" as const),
    step_rate: column(4),
    cpu_percent: column(120),
    memory_used_bytes: column(8 * GiB),
    gpu_utilization_percent: column(75),
  };
}

function routes(worker: WorkerResponse, lastSampleAt: number) {
  const detail: WorkerDetailResponse = {
    worker,
    events: [eventFixture({ type: "worker_registered", at: NOW - 600_000, worker_id: worker.id })],
    shards: [],
  };
  return {
    "GET /api/status": statusFixture({ heartbeat_timeout_ms: 15_000 }),
    [`GET /api/workers/${worker.id}`]: detail,
    [`GET /api/workers/${worker.id}/history`]: (r: RecordedRequest) =>
      historyAnswer(r, lastSampleAt),
  };
}

const chart = (name: string) => screen.getByTestId(`chart-${name}`);
const plotOf = (label: string) => plots.find((p) => p.opts.series[1]?.label === label);

describe("worker page", () => {
  test("loads the worker's stored history first, then appends live values from the stream", async () => {
    // The coordinator restarted 5 minutes ago and the worker has not been sampled since: the
    // 10 minutes before still show.
    const worker = workerFixture({ id: "w-0", step_rate: 5, last_heartbeat: NOW - 500 });
    const { requests, live } = renderApp("/workers/w-0", routes(worker, NOW - 300_000));
    // The 10 minutes of stored 10-second steps (61 points), a break for the 5 minutes nothing was
    // stored, then the value the page opened with.
    await waitFor(() => expect(chart("step-rate").getAttribute("data-points")).toBe("63"));
    const asked = requests.filter((r) => r.path === "/api/workers/w-0/history");
    expect(asked).toHaveLength(1);
    expect(Number(asked[0]?.query.get("to"))).toBe(NOW);
    expect(Number(asked[0]?.query.get("from"))).toBe(NOW - 15 * 60_000);
    expect(screen.queryByText(/cluster-wide history only/)).toBeNull();
    expect(screen.queryByText("No samples in this window")).toBeNull();
    const rate = plotOf("Steps/s");
    expect(rate?.data[0]?.[0]).toBe(NOW - 15 * 60_000);
    expect(rate?.data[1]?.[0]).toBe(4);
    expect(rate?.data[0]?.[60]).toBe(NOW - 300_000);
    expect(rate?.data[1]?.[60]).toBe(4);
    expect(rate?.data[1]?.[61]).toBeNull(); // nothing stored since the restart: no line across
    expect(rate?.data[0]?.[62]).toBe(NOW - 500);
    expect(rate?.data[1]?.[62]).toBe(5);
    const use = plotOf("CPU %");
    expect(use?.data[1]?.[0]).toBe(120);
    expect(use?.data[2]?.[0]).toBe(75); // GPU: stored samples only
    expect(use?.data[2]?.[62]).toBeNull();
    expect(plotOf("Memory")?.data[1]?.[0]).toBe(8 * GiB);

    live.onTick({
      at: NOW + 1_000,
      sample: {},
      workers: [
        {
          id: "w-0",
          state: "training",
          alive: true,
          last_heartbeat: NOW + 1_000,
          current_step: 1_300,
          current_epoch: 1,
          current_task: "",
          step_rate: 6.5,
          samples_consumed: 40_000,
          cpu_percent: 190,
          memory_used_bytes: 9 * GiB,
        },
      ],
    });
    // The tick moves the coordinator's clock a second on: the window slides past the oldest step.
    await waitFor(() => expect(rate?.data[0]?.at(-1)).toBe(NOW + 1_000));
    expect(chart("step-rate").getAttribute("data-points")).toBe("63");
    expect(rate?.data[0]?.[0]).toBe(NOW - 15 * 60_000 + 10_000);
    expect(rate?.data[1]?.at(-1)).toBe(6.5);
    expect(rate?.data[1]?.at(-2)).toBe(5);
    expect(use?.data[1]?.at(-1)).toBe(190);
    expect(use?.data[2]?.at(-1)).toBeNull();
    expect(plotOf("Memory")?.data[1]?.at(-1)).toBe(9 * GiB);
    // The history is not fetched again for a tick.
    expect(requests.filter((r) => r.path === "/api/workers/w-0/history")).toHaveLength(1);
    live.dispose();
  });

  test("a dead worker's charts end where it died and still show its past", async () => {
    const diedAt = NOW - 3_600_000;
    const worker = workerFixture({
      id: "w-9",
      state: "dead",
      status: "failed",
      alive: false,
      last_heartbeat: diedAt,
      heartbeat_age_ms: NOW - diedAt,
    });
    const { requests } = renderApp("/workers/w-9", routes(worker, diedAt + 10_000));
    // Its stored steps up to its last sample (89 of the window's 90), nothing made up after.
    await waitFor(() => expect(chart("step-rate").getAttribute("data-points")).toBe("89"));
    const asked = requests.filter((r) => r.path === "/api/workers/w-9/history");
    expect(asked).toHaveLength(1);
    // Its last heartbeat, plus the heartbeat timeout and one sample interval.
    const to = diedAt + 15_000 + 10_000;
    expect(Number(asked[0]?.query.get("to"))).toBe(to);
    expect(Number(asked[0]?.query.get("from"))).toBe(to - 15 * 60_000);
    expect(chart("step-rate").getAttribute("data-first-at")).toBe(String(to - 15 * 60_000));
    expect(plotOf("Steps/s")?.data[1]?.[0]).toBe(4);
    expect(screen.queryByText("No samples in this window")).toBeNull();
    expect(screen.getByText(/until the worker stopped/)).toBeTruthy();

    // A longer window asks again, over the hour before its death.
    fireEvent.change(screen.getByLabelText("Window"), { target: { value: "1h" } });
    await waitFor(() =>
      expect(requests.filter((r) => r.path === "/api/workers/w-9/history")).toHaveLength(2),
    );
    const longer = requests.filter((r) => r.path === "/api/workers/w-9/history")[1];
    expect(Number(longer?.query.get("from"))).toBe(to - 3_600_000);
    await waitFor(() => expect(chart("step-rate").getAttribute("data-points")).toBe("359"));
  });

  test("a worker the coordinator never knew says so", async () => {
    renderApp("/workers/nobody", { "GET /api/status": statusFixture() });
    await waitFor(() =>
      expect(screen.getByText(/no route GET \/api\/workers\/nobody/)).toBeTruthy(),
    );
  });
});
