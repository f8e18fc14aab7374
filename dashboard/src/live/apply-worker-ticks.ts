import type {
  ApiWorkerState,
  WorkerResponse,
  WorkerStatus,
  WorkersResponse,
  WorkerTick,
} from "@strata/coordinator/api";

/** The original's coarse status of a state, as the coordinator derives it (see `workers.ts`). */
export function coarseStatus(state: ApiWorkerState): WorkerStatus {
  switch (state) {
    case "training":
    case "loading_data":
    case "checkpointing":
    case "recovering":
      return "active";
    case "idle":
      return "idle";
    case "error":
    case "dead":
      return "failed";
    default:
      return "unknown";
  }
}

/** One worker with a tick's live values applied. */
export function applyWorkerTick(worker: WorkerResponse, tick: WorkerTick): WorkerResponse {
  const resources =
    worker.resources === null
      ? tick.cpu_percent === null && tick.memory_used_bytes === null
        ? null
        : {
            cpu_percent: tick.cpu_percent ?? 0,
            memory_used_bytes: tick.memory_used_bytes ?? 0,
            disk_read_bytes: 0,
            disk_write_bytes: 0,
            network_rx_bytes: 0,
            network_tx_bytes: 0,
            gpus: [],
          }
      : {
          ...worker.resources,
          cpu_percent: tick.cpu_percent ?? worker.resources.cpu_percent,
          memory_used_bytes: tick.memory_used_bytes ?? worker.resources.memory_used_bytes,
        };
  return {
    ...worker,
    state: tick.state,
    status: coarseStatus(tick.state),
    alive: tick.alive,
    last_heartbeat: tick.last_heartbeat,
    current_step: tick.current_step,
    current_epoch: tick.current_epoch,
    current_task: tick.current_task,
    step_rate: tick.step_rate,
    samples_consumed: tick.samples_consumed,
    resources,
  };
}

/**
 * Applies a tick's changed workers to a `GET /api/workers` answer. Unchanged workers keep their
 * object (so memoised rows do not re-render); the same array comes back when nothing changed.
 * A tick for a worker the list does not have yet is ignored: its `worker_registered` event makes
 * the list refetch, which brings its static fields (host, rank, GPUs).
 */
export function applyWorkerTicks(
  workers: WorkersResponse,
  ticks: readonly WorkerTick[],
): WorkersResponse {
  if (ticks.length === 0) return workers;
  const byId = new Map<string, WorkerTick>();
  for (const tick of ticks) byId.set(tick.id, tick);
  let changed = false;
  const next = workers.map((worker) => {
    const tick = byId.get(worker.id);
    if (tick === undefined) return worker;
    changed = true;
    return applyWorkerTick(worker, tick);
  });
  return changed ? next : workers;
}
