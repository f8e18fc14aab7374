import { isLiveWorkerState, type ResourceUsage, type WorkerState } from "@strata/runtime-core";
import type { ResourceUsageResponse, WorkerResponse, WorkerStatus } from "../api/workers.js";
import type { WorkerView } from "../engine/types.js";

/** The original's coarse status for a precise state (see `workerStatusSchema`). */
export function coarseStatus(state: WorkerState): WorkerStatus {
  switch (state) {
    case "idle":
      return "idle";
    case "loading_data":
    case "training":
    case "checkpointing":
    case "recovering":
      return "active";
    case "error":
    case "dead":
      return "failed";
    case "initializing":
    case "disconnecting":
      return "unknown";
  }
}

/** Reported resources in the API's snake_case. */
export function toResourceResponse(r: ResourceUsage): ResourceUsageResponse {
  return {
    cpu_percent: r.cpuPercent,
    memory_used_bytes: r.memoryUsedBytes,
    disk_read_bytes: r.diskReadBytes,
    disk_write_bytes: r.diskWriteBytes,
    network_rx_bytes: r.networkRxBytes,
    network_tx_bytes: r.networkTxBytes,
    gpus: r.gpus.map((g) => ({
      gpu_id: g.gpuId,
      utilization_percent: g.utilizationPercent,
      memory_used_bytes: g.memoryUsedBytes,
      memory_total_bytes: g.memoryTotalBytes,
      temperature_celsius: g.temperatureCelsius,
    })),
  };
}

/** What a worker's API form needs beyond the engine's view. */
export interface WorkerContext {
  /** When the answer is made, ms since the epoch (for `heartbeat_age_ms`). */
  nowMs: number;
  /** Shards it holds in the newest planned epoch of every dataset. */
  assignedShards: number;
  /** Steps per second from its heartbeats, or null. */
  stepRate: number | null;
}

/** A worker as `/api/workers` shows it. */
export function toWorkerResponse(w: WorkerView, context: WorkerContext): WorkerResponse {
  return {
    id: w.workerId,
    ip: w.hostname,
    port: w.port,
    status: coarseStatus(w.state),
    gpu_count: w.gpuCount,
    last_heartbeat: w.lastHeartbeatMs,
    assigned_shards: context.assignedShards,
    current_epoch: w.currentEpoch,
    current_step: w.currentStep,
    current_task: w.currentTask,
    rank: w.rank,
    state: w.state,
    alive: isLiveWorkerState(w.state),
    left: w.membership === "left",
    hostname: w.hostname,
    incarnation: w.incarnation,
    registered_at: w.registeredAtMs,
    heartbeat_age_ms: Math.max(0, context.nowMs - w.lastHeartbeatMs),
    step_rate: context.stepRate === null ? null : Math.max(0, context.stepRate),
    samples_consumed: w.samplesConsumed,
    memory_bytes: w.memoryBytes,
    metadata: { ...w.metadata },
    pending_commands: [...w.pendingCommands],
    resources: w.resources === undefined ? null : toResourceResponse(w.resources),
  };
}
