import { screen, waitFor } from "@testing-library/react";
import {
  historyFixture,
  metricsFixture,
  NOW,
  statusFixture,
  workerFixture,
} from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";
import { plots } from "../../test/stubs/uplot-stub.js";

const routes = () => ({
  "GET /api/metrics": metricsFixture(),
  "GET /api/workers": [
    workerFixture({ id: "w-0" }),
    workerFixture({ id: "w-1", rank: 1 }),
    workerFixture({ id: "w-2", rank: 2, state: "dead", alive: false }),
  ],
  "GET /api/status": statusFixture(),
  "GET /api/events/recent": { events: [], next_before: null },
  // A coordinator restarted 2 minutes ago: its history still has the 10 minutes before.
  "GET /api/history": historyFixture(NOW, 600, {
    steps_per_second: (i) => (i < 480 ? 10 : null),
    samples_per_second: (i) => (i < 480 ? 320 : null),
    checkpoint_bytes_per_second: () => 0,
    barrier_p50_ms: () => 5,
    barrier_p99_ms: () => 20,
    workers_alive: () => 2,
    workers_dead: () => 1,
  }),
});

const card = (label: string) => screen.getByTestId(`stat-${label}`).textContent;

describe("overview page", () => {
  test("cards show real values: metrics first, then every tick", async () => {
    const { live } = renderApp("/", routes());
    await waitFor(() => expect(card("steps-s")).toBe("9.00"));
    expect(card("live-workers")).toBe("2");
    expect(card("checkpoint-throughput")).toBe("3.0 MiB/s");
    expect(card("barrier-p99")).toBe("42.0 ms");
    live.onTick({
      at: NOW + 1_000,
      sample: {
        steps_per_second: 12.5,
        samples_per_second: 400,
        checkpoint_bytes_per_second: 650 * 1024 * 1024,
        barrier_p99_ms: 7,
        workers_alive: 2,
      },
      workers: [],
    });
    await waitFor(() => expect(card("steps-s")).toBe("12.5"));
    expect(card("samples-s")).toBe("400");
    expect(card("checkpoint-throughput")).toBe("650 MiB/s");
    expect(card("barrier-p99")).toBe("7.00 ms");
    live.dispose();
  });

  test("charts load history first, so the past before a restart shows, then append live ticks", async () => {
    const { requests, live } = renderApp("/?window=15m", routes());
    await waitFor(() =>
      expect(screen.getByTestId("chart-steps-per-second").getAttribute("data-points")).toBe("600"),
    );
    const history = requests.find((r) => r.path === "/api/history");
    expect(history?.query.get("series")).toBe("steps_per_second");
    expect(Number(history?.query.get("to")) - Number(history?.query.get("from"))).toBe(15 * 60_000);
    const plot = plots.find((p) => p.opts.series[1]?.label === "Steps/s");
    expect(plot?.data[1]?.[0]).toBe(10);
    expect(screen.queryByText("No samples in this window")).toBeNull();
    live.onTick({ at: NOW + 1_000, sample: { steps_per_second: 11 }, workers: [] });
    await waitFor(() =>
      expect(screen.getByTestId("chart-steps-per-second").getAttribute("data-points")).toBe("601"),
    );
    expect(plot?.data[1]?.[600]).toBe(11);
    // An older tick (already covered by history) is not drawn twice.
    live.dispose();
  });

  test("before any barrier is released the p99 card says so instead of 0 ms", async () => {
    renderApp("/", { ...routes(), "GET /api/metrics": metricsFixture({ barrier_latency_p99: 0 }) });
    await waitFor(() => expect(card("steps-s")).toBe("9.00"));
    expect(card("barrier-p99")).toBe("—");
  });

  test("an empty history says so rather than waiting forever", async () => {
    renderApp("/", {
      ...routes(),
      "GET /api/history": {
        from: NOW - 900_000,
        to: NOW,
        step_ms: 1000,
        timestamps: [],
        series: {},
      },
    });
    await waitFor(() =>
      expect(screen.getAllByText("No samples in this window").length).toBeGreaterThan(0),
    );
    expect(screen.queryByText(/Collecting data/)).toBeNull();
  });
});
