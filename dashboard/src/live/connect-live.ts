import type {
  ApiEvent,
  StreamTick,
  TasksResponse,
  WorkerDetailResponse,
  WorkersResponse,
  WorkerTick,
} from "@strata/coordinator/api";
import type { QueryClient, QueryKey } from "@tanstack/react-query";
import type { ApiClient } from "../api/api-client.js";
import { queryKeys } from "../api/query-keys.js";
import { applyWorkerTick, applyWorkerTicks } from "./apply-worker-ticks.js";
import type { ConnectionState } from "./connection-state.js";
import { type EventStream, type EventStreamHandlers, openEventStream } from "./event-stream.js";
import type { LiveStore } from "./live-store.js";
import { createThrottledInvalidator } from "./throttled-invalidator.js";

/** The query keys an event changes (the stream keeps every view within a second of the change). */
export function keysForEvent(event: ApiEvent): QueryKey[] {
  const keys: QueryKey[] = [];
  if (event.worker_id !== null) keys.push(queryKeys.workers.detail(event.worker_id));
  switch (event.type) {
    case "worker_registered":
    case "worker_deregistered":
    case "worker_dead":
    case "membership_changed":
      keys.push(queryKeys.workers.list, queryKeys.status, queryKeys.barriers.all);
      break;
    case "worker_state_changed":
      // The tick carries the new state; the list refetches only for what a tick does not carry.
      break;
    case "barrier_arrived":
    case "barrier_released":
    case "barrier_aborted":
      keys.push(queryKeys.barriers.all);
      break;
    case "dataset_registered":
    case "shards_reassigned":
    case "shard_progress":
    case "progress_restored":
      keys.push(queryKeys.datasets.all);
      if (event.type === "shards_reassigned") keys.push(queryKeys.workers.list);
      break;
    case "checkpoint_recorded":
    case "checkpoint_completed":
      keys.push(queryKeys.checkpoints.all);
      break;
    case "task_created":
    case "task_status_changed":
      keys.push(queryKeys.tasks.all);
      break;
    case "log":
      break;
  }
  if (event.task_id !== null) keys.push(queryKeys.tasks.logs(event.task_id));
  keys.push(queryKeys.logs.all);
  return keys;
}

/** Invalidation windows per kind of key (ms): chatty events refresh at most this often. */
function windowFor(key: QueryKey): number {
  const root = key[0];
  if (root === "datasets" || root === "logs" || root === "tasks") return 1_000;
  return 300;
}

/** The stream handlers {@link connectLive} installs, plus a way to cancel pending work. */
export interface LiveHandlers extends Required<Omit<EventStreamHandlers, "onState">> {
  onState(state: ConnectionState): void;
  dispose(): void;
}

/**
 * What each stream message does to the query cache and the live store: a tick patches the
 * workers list and the open worker details in place and appends the metric sample; an event
 * invalidates the resources it changes (throttled); a reconnect or a `reset` refetches
 * everything, history included, because ticks missed while away are not replayed.
 */
export function createLiveHandlers(queryClient: QueryClient, store: LiveStore): LiveHandlers {
  const invalidator = createThrottledInvalidator(queryClient);
  const refetchAll = (): void => {
    void queryClient.invalidateQueries();
  };
  // The newest tick of each worker with the coordinator time it describes, so a list fetched
  // while ticks arrived (an answer computed before the newest tick) is brought up to date.
  const latestTicks = new Map<string, { at: number; tick: WorkerTick }>();
  const unsubscribeCache = queryClient.getQueryCache().subscribe((event) => {
    if (event.type !== "updated" || event.action.type !== "success" || event.action.manual) return;
    if (JSON.stringify(event.query.queryKey) !== LIST_KEY) return;
    const data = event.query.state.data as WorkersResponse | undefined;
    if (data === undefined || latestTicks.size === 0) return;
    const newer = newerTicks(data, latestTicks);
    if (newer.length > 0) {
      queryClient.setQueryData<WorkersResponse>(queryKeys.workers.list, (old) =>
        old === undefined ? old : applyWorkerTicks(old, newer),
      );
    }
  });

  const applyTick = (tick: StreamTick): void => {
    store.addTick(tick);
    if (tick.workers.length === 0) return;
    for (const worker of tick.workers) latestTicks.set(worker.id, { at: tick.at, tick: worker });
    for (const [id, entry] of latestTicks) if (tick.at - entry.at > 60_000) latestTicks.delete(id);
    const list = queryClient.getQueryData<WorkersResponse>(queryKeys.workers.list);
    if (list !== undefined) {
      queryClient.setQueryData<WorkersResponse>(
        queryKeys.workers.list,
        applyWorkerTicks(list, tick.workers),
      );
      // A worker the list does not have yet (its registration event may be in flight): refetch.
      const known = new Set(list.map((w) => w.id));
      if (tick.workers.some((w) => !known.has(w.id)))
        invalidator.invalidate(queryKeys.workers.list);
    }
    const details = queryClient.getQueryCache().findAll({ queryKey: ["workers", "detail"] });
    if (details.length > 0) {
      const byId = new Map(tick.workers.map((worker) => [worker.id, worker]));
      for (const query of details) {
        const data = query.state.data as WorkerDetailResponse | undefined;
        const change = data === undefined ? undefined : byId.get(data.worker.id);
        if (data === undefined || change === undefined) continue;
        queryClient.setQueryData<WorkerDetailResponse>(query.queryKey, {
          ...data,
          worker: applyWorkerTick(data.worker, change),
        });
      }
    }
    // Task progress is derived from its workers' steps: refresh tasks whose workers moved.
    const tasks = queryClient.getQueryData<TasksResponse>(queryKeys.tasks.list);
    if (tasks !== undefined) {
      const running = new Set(
        tasks
          .filter(
            (t) => t.status === "pending" || t.status === "running" || t.status === "stopping",
          )
          .map((t) => t.id),
      );
      if (tick.workers.some((worker) => running.has(worker.current_task))) {
        invalidator.invalidate(queryKeys.tasks.all, 1_000);
      }
    }
  };

  return {
    onState: (state) => store.setConnection(state),
    onHello: (hello, reconnected) => {
      store.setHello(hello);
      if (reconnected) refetchAll();
    },
    onTick: applyTick,
    onEvent: (event) => {
      store.addEvent(event);
      for (const key of keysForEvent(event)) invalidator.invalidate(key, windowFor(key));
    },
    onReset: refetchAll,
    dispose: () => {
      unsubscribeCache();
      invalidator.dispose();
    },
  };
}

const LIST_KEY = JSON.stringify(queryKeys.workers.list);

/**
 * The stored ticks newer than a fetched workers list: the coordinator answered at
 * `last_heartbeat + heartbeat_age_ms` (its clock), so a tick computed after that is newer.
 */
export function newerTicks(
  workers: WorkersResponse,
  latest: ReadonlyMap<string, { at: number; tick: WorkerTick }>,
): WorkerTick[] {
  const newer: WorkerTick[] = [];
  for (const worker of workers) {
    const entry = latest.get(worker.id);
    if (entry !== undefined && entry.at > worker.last_heartbeat + worker.heartbeat_age_ms) {
      newer.push(entry.tick);
    }
  }
  return newer;
}

/** Options for {@link connectLive}. */
export interface ConnectLiveOptions {
  api: ApiClient;
  queryClient: QueryClient;
  store: LiveStore;
}

/**
 * Opens the coordinator's event stream with {@link createLiveHandlers} wired to the query cache
 * and the live store. Returns the stream; `close()` it to stop.
 */
export function connectLive({ api, queryClient, store }: ConnectLiveOptions): EventStream {
  const handlers = createLiveHandlers(queryClient, store);
  const stream = openEventStream(
    {
      url: api.url("/api/events"),
      fetch: api.fetch,
      credentials: api.crossOrigin ? "include" : "same-origin",
    },
    handlers,
  );
  return {
    get lastEventId() {
      return stream.lastEventId;
    },
    get state() {
      return stream.state;
    },
    reconnectNow: () => stream.reconnectNow(),
    close() {
      handlers.dispose();
      stream.close();
    },
  };
}
