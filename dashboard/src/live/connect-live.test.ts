import type { WorkersResponse } from "@strata/coordinator/api";
import { QueryClient } from "@tanstack/react-query";
import { eventFixture, workerFixture } from "../../test/fixtures/api-fixtures.js";
import { queryKeys } from "../api/query-keys.js";
import { createLiveHandlers, keysForEvent } from "./connect-live.js";
import { createLiveStore } from "./live-store.js";

describe("live handlers", () => {
  test("events name the resources they change", () => {
    expect(keysForEvent(eventFixture({ type: "worker_registered", worker_id: "w-3" }))).toEqual(
      expect.arrayContaining([queryKeys.workers.list, queryKeys.workers.detail("w-3")]),
    );
    expect(
      keysForEvent(eventFixture({ type: "checkpoint_recorded", worker_id: null })),
    ).toContainEqual(queryKeys.checkpoints.all);
    expect(
      keysForEvent(eventFixture({ type: "task_status_changed", worker_id: null, task_id: "t1" })),
    ).toEqual(expect.arrayContaining([queryKeys.tasks.all, queryKeys.tasks.logs("t1")]));
    expect(keysForEvent(eventFixture({ type: "barrier_arrived", worker_id: null }))).toContainEqual(
      queryKeys.barriers.all,
    );
    expect(
      keysForEvent(eventFixture({ type: "shards_reassigned", worker_id: null })),
    ).toContainEqual(queryKeys.datasets.all);
  });

  test("a tick patches the cached workers list; an event invalidates, throttled", async () => {
    const queryClient = new QueryClient();
    const store = createLiveStore();
    const handlers = createLiveHandlers(queryClient, store);
    try {
      queryClient.setQueryData<WorkersResponse>(queryKeys.workers.list, [workerFixture()]);
      handlers.onTick({
        at: 5,
        sample: { workers_alive: 0 },
        workers: [
          {
            id: "w-0",
            state: "dead",
            alive: false,
            last_heartbeat: 1,
            current_step: 9,
            current_epoch: 1,
            current_task: "",
            step_rate: null,
            samples_consumed: 0,
            cpu_percent: null,
            memory_used_bytes: null,
          },
        ],
      });
      expect(queryClient.getQueryData<WorkersResponse>(queryKeys.workers.list)?.[0]?.state).toBe(
        "dead",
      );
      expect(store.getLatestSample()?.values.workers_alive).toBe(0);

      const spy = jest.spyOn(queryClient, "invalidateQueries");
      handlers.onEvent(eventFixture({ type: "checkpoint_recorded", worker_id: null }));
      handlers.onEvent(eventFixture({ type: "checkpoint_recorded", worker_id: null }));
      handlers.onEvent(eventFixture({ type: "checkpoint_recorded", worker_id: null }));
      const checkpointCalls = () =>
        spy.mock.calls.filter(
          ([filters]) =>
            JSON.stringify(filters?.queryKey) === JSON.stringify(queryKeys.checkpoints.all),
        ).length;
      expect(checkpointCalls()).toBe(1);
      await new Promise((r) => setTimeout(r, 400));
      // The trailing edge: the last of the burst is never lost.
      expect(checkpointCalls()).toBe(2);
      expect(store.getEvents()).toHaveLength(3);
    } finally {
      handlers.dispose();
      queryClient.clear();
    }
  });

  test("a list fetched before the newest tick is brought up to date by it; a newer list is not", async () => {
    const queryClient = new QueryClient();
    const handlers = createLiveHandlers(queryClient, createLiveStore());
    try {
      const tick = {
        id: "w-0",
        state: "idle" as const,
        alive: true,
        last_heartbeat: 1_400,
        current_step: 0,
        current_epoch: 0,
        current_task: "",
        step_rate: null,
        samples_consumed: 0,
        cpu_percent: null,
        memory_used_bytes: null,
      };
      handlers.onTick({ at: 1_500, sample: {}, workers: [tick] });
      // The coordinator answered at 900 + 100 = 1,000: before the tick (the registration race).
      const stale = workerFixture({
        state: "initializing",
        last_heartbeat: 900,
        heartbeat_age_ms: 100,
      });
      await queryClient.fetchQuery({ queryKey: queryKeys.workers.list, queryFn: () => [stale] });
      expect(queryClient.getQueryData<WorkersResponse>(queryKeys.workers.list)?.[0]?.state).toBe(
        "idle",
      );
      // Answered at 1,600: after the tick, so the list wins.
      const fresh = workerFixture({
        state: "training",
        last_heartbeat: 1_550,
        heartbeat_age_ms: 50,
      });
      await queryClient.fetchQuery({
        queryKey: queryKeys.workers.list,
        queryFn: () => [fresh],
        staleTime: 0,
      });
      expect(queryClient.getQueryData<WorkersResponse>(queryKeys.workers.list)?.[0]?.state).toBe(
        "training",
      );
    } finally {
      handlers.dispose();
      queryClient.clear();
    }
  });

  test("a reconnect or a reset refetches everything", () => {
    const queryClient = new QueryClient();
    const handlers = createLiveHandlers(queryClient, createLiveStore());
    const spy = jest.spyOn(queryClient, "invalidateQueries");
    handlers.onHello({ seq: 1, coordinator_id: "c", started_at: 1 }, false);
    expect(spy).not.toHaveBeenCalled();
    handlers.onHello({ seq: 1, coordinator_id: "c", started_at: 1 }, true);
    expect(spy).toHaveBeenCalledWith();
    handlers.onReset("slow_consumer");
    expect(spy).toHaveBeenCalledTimes(2);
    handlers.dispose();
  });
});
