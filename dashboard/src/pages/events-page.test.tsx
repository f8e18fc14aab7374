import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { eventFixture, NOW } from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";

const stored = [
  eventFixture({ seq: 10, at: NOW - 3_000, message: "worker w-0 registered with rank 0" }),
  eventFixture({
    seq: 11,
    at: NOW - 2_000,
    type: "worker_dead",
    level: "warn",
    message: "worker w-1 declared dead",
    worker_id: "w-1",
  }),
];

describe("events page", () => {
  test("stored events newest first, live ones joining them, filters sent to the API and applied live", async () => {
    const { requests, live } = renderApp("/events", {
      "GET /api/events/recent": (request) => ({
        events: stored.filter(
          (e) => request.query.get("type") === null || e.type === request.query.get("type"),
        ),
        next_before: null,
      }),
    });
    const table = await screen.findByTestId("events-table");
    const messages = () =>
      within(screen.getByTestId("events-table"))
        .getAllByRole("row")
        .slice(1)
        .map((row) => within(row).getAllByRole("cell")[3]?.textContent);
    expect(messages()).toEqual(["worker w-1 declared dead", "worker w-0 registered with rank 0"]);
    expect(table).toBeTruthy();

    live.onEvent(
      eventFixture({
        seq: 12,
        at: NOW,
        type: "checkpoint_recorded",
        message: "checkpoint c-1 recorded",
        worker_id: "w-0",
      }),
    );
    await waitFor(() => expect(messages()[0]).toBe("checkpoint c-1 recorded"));

    fireEvent.change(screen.getByLabelText("Type"), { target: { value: "worker_dead" } });
    await waitFor(() => expect(messages()).toEqual(["worker w-1 declared dead"]));
    expect(
      requests.some(
        (r) => r.path === "/api/events/recent" && r.query.get("type") === "worker_dead",
      ),
    ).toBe(true);
    live.onEvent(
      eventFixture({
        seq: 13,
        at: NOW,
        type: "worker_registered",
        message: "worker w-9 registered",
      }),
    );
    live.onEvent(
      eventFixture({
        seq: 14,
        at: NOW,
        type: "worker_dead",
        level: "warn",
        message: "worker w-2 declared dead",
      }),
    );
    await waitFor(() =>
      expect(messages()).toEqual(["worker w-2 declared dead", "worker w-1 declared dead"]),
    );

    fireEvent.change(screen.getByLabelText("Lowest level"), { target: { value: "error" } });
    expect(await screen.findByText("No events match")).toBeTruthy();
    live.dispose();
  });

  test("exports the events shown as JSON", async () => {
    const created: Blob[] = [];
    const originalCreate = URL.createObjectURL;
    const originalRevoke = URL.revokeObjectURL;
    URL.createObjectURL = (blob: Blob) => {
      created.push(blob);
      return "blob:events";
    };
    URL.revokeObjectURL = () => {};
    const click = jest.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    try {
      renderApp("/events", { "GET /api/events/recent": { events: stored, next_before: null } });
      await screen.findByTestId("events-table");
      fireEvent.click(screen.getByRole("button", { name: "Export JSON" }));
      expect(click).toHaveBeenCalled();
      expect(created).toHaveLength(1);
      const text = await new Promise<string>((resolve) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result));
        reader.readAsText(created[0] as Blob);
      });
      const exported = JSON.parse(text) as { seq: number }[];
      expect(exported.map((e) => e.seq)).toEqual([11, 10]);
    } finally {
      URL.createObjectURL = originalCreate;
      URL.revokeObjectURL = originalRevoke;
      click.mockRestore();
    }
  });

  test("older events page in with next_before", async () => {
    const { requests } = renderApp("/events", {
      "GET /api/events/recent": (request) =>
        request.query.get("before") === "10"
          ? { events: [eventFixture({ seq: 5, message: "an older event" })], next_before: null }
          : { events: stored, next_before: 10 },
    });
    fireEvent.click(await screen.findByRole("button", { name: "Load older events" }));
    expect(await screen.findByText("an older event")).toBeTruthy();
    expect(requests.some((r) => r.query.get("before") === "10")).toBe(true);
    expect(screen.queryByRole("button", { name: "Load older events" })).toBeNull();
  });

  test("the logs tab lists log lines with a level filter", async () => {
    const { requests } = renderApp("/events?view=logs&level=warn", {
      "GET /api/logs": [
        {
          id: "log_11",
          timestamp: NOW,
          level: "warn",
          message: "worker w-1 declared dead",
          source: "membership",
          task_id: null,
          worker_id: "w-1",
        },
      ],
    });
    expect(await screen.findByText("worker w-1 declared dead")).toBeTruthy();
    expect(requests.find((r) => r.path === "/api/logs")?.query.get("level")).toBe("warn");
    expect(screen.getByRole("tab", { name: "Logs" }).getAttribute("aria-selected")).toBe("true");
  });

  test("a time window goes to the API for events and logs, and live events outside it stay out", async () => {
    const from = NOW - 2_500;
    const to = NOW - 1_000;
    const { requests, live } = renderApp(`/events?from=${from}&to=${to}`, {
      "GET /api/events/recent": (request) => ({
        events: stored.filter(
          (e) =>
            e.at >= Number(request.query.get("from") ?? 0) &&
            e.at < Number(request.query.get("to") ?? Number.MAX_SAFE_INTEGER),
        ),
        next_before: null,
      }),
      "GET /api/logs": [],
    });
    expect(await screen.findByText("worker w-1 declared dead")).toBeTruthy();
    expect(screen.queryByText("worker w-0 registered with rank 0")).toBeNull();
    const asked = requests.find((r) => r.path === "/api/events/recent");
    expect(asked?.query.get("from")).toBe(String(from));
    expect(asked?.query.get("to")).toBe(String(to));
    // The inputs show the window in local time, to the second.
    const input = screen.getByLabelText("From") as HTMLInputElement;
    expect(new Date(input.value).getTime()).toBe(Math.floor(from / 1_000) * 1_000);
    // A live event after the window's end is not listed.
    live.onEvent(eventFixture({ seq: 12, at: NOW, message: "after the window" }));
    live.onEvent(eventFixture({ seq: 13, at: to - 1, message: "inside the window" }));
    expect(await screen.findByText("inside the window")).toBeTruthy();
    expect(screen.queryByText("after the window")).toBeNull();

    // Clearing the end asks again without it; the logs tab sends the same window.
    fireEvent.change(screen.getByLabelText("Until"), { target: { value: "" } });
    await waitFor(() =>
      expect(
        requests.some(
          (r) =>
            r.path === "/api/events/recent" &&
            r.query.get("from") === String(from) &&
            r.query.get("to") === null,
        ),
      ).toBe(true),
    );
    fireEvent.click(screen.getByRole("tab", { name: "Logs" }));
    await waitFor(() =>
      expect(requests.find((r) => r.path === "/api/logs")?.query.get("from")).toBe(String(from)),
    );
    live.dispose();
  });
});
