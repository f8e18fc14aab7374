import type { ApiEvent, EventLevel } from "../api/events.js";
import type { LogResponse } from "../api/logs.js";
import type { CoordinatorEvent } from "../engine/events.js";

/** An API event before history gives it its seq. */
export type ApiEventInput = Omit<ApiEvent, "seq">;

/** `fooBarMs` → `foo_bar_ms`. */
function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The event's own fields (everything but seq, time and type), in snake_case. */
function dataOf(event: CoordinatorEvent): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === "seq" || key === "atMs" || key === "type") continue;
    data[snake(key)] = value;
  }
  return data;
}

function describe(event: CoordinatorEvent): { level: EventLevel; source: string; message: string } {
  switch (event.type) {
    case "worker_registered":
      return {
        level: "info",
        source: "membership",
        message: event.returning
          ? `worker ${event.workerId} came back as rank ${event.rank} (incarnation ${event.incarnation})`
          : `worker ${event.workerId} registered as rank ${event.rank}`,
      };
    case "worker_state_changed":
      return {
        level: event.to === "error" ? "error" : "info",
        source: "membership",
        message: `worker ${event.workerId}: ${event.from} → ${event.to}`,
      };
    case "worker_dead":
      return {
        level: "warn",
        source: "membership",
        message: `worker ${event.workerId} (rank ${event.rank}) declared dead after ${event.silentForMs} ms without a heartbeat`,
      };
    case "worker_deregistered":
      return {
        level: "info",
        source: "membership",
        message: `worker ${event.workerId} (rank ${event.rank}) left`,
      };
    case "membership_changed":
      return {
        level: "info",
        source: "membership",
        message: `membership version ${event.membershipVersion}: ${event.worldSize} live workers (${event.workerId} ${event.reason})`,
      };
    case "barrier_arrived":
      return {
        level: "debug",
        source: "barriers",
        message: `worker ${event.workerId} arrived at barrier ${event.barrierId} (generation ${event.generation}, #${event.arrivalOrder})`,
      };
    case "barrier_released":
      return {
        level: "info",
        source: "barriers",
        message: `barrier ${event.barrierId} released ${event.participants} workers after ${event.waitedMs} ms (generation ${event.generation})`,
      };
    case "barrier_aborted":
      return {
        level: "warn",
        source: "barriers",
        message: `barrier ${event.barrierId} aborted (generation ${event.generation}): ${event.reason}${event.workerId === undefined ? "" : ` (${event.workerId})`}`,
      };
    case "dataset_registered":
      return {
        level: "info",
        source: "datasets",
        message: `dataset ${event.datasetId} registered with ${event.totalShards} shards`,
      };
    case "shards_reassigned":
      return {
        level: "info",
        source: "datasets",
        message: `dataset ${event.datasetId} epoch ${event.epoch}: ${event.moved} shards moved (membership version ${event.membershipVersion})`,
      };
    case "shard_progress":
      return {
        level: "debug",
        source: "datasets",
        message: `dataset ${event.datasetId} epoch ${event.epoch} shard ${event.shardId}: ${event.consumedSamples} samples consumed by ${event.workerId}${event.shardComplete ? " (complete)" : ""}`,
      };
    case "checkpoint_recorded":
      return {
        level: "info",
        source: "checkpoints",
        message: `checkpoint ${event.checkpointId} of job ${event.jobId} step ${event.step} rank ${event.rank} recorded (${event.sizeBytes} bytes)`,
      };
    case "checkpoint_completed":
      return {
        level: "info",
        source: "checkpoints",
        message: `checkpoint of job ${event.jobId} step ${event.step} complete (${event.ranks} ranks)`,
      };
    case "progress_restored":
      return {
        level: "info",
        source: "datasets",
        message: `dataset ${event.datasetId} epoch ${event.epoch} progress restored by ${event.workerId}: ${event.consumedSamples} samples consumed`,
      };
  }
}

/**
 * The API form of an engine event: level, source, a one-line message, and the ids it concerns
 * lifted to the top. `taskOfWorker` names the task a worker runs, so a task's log shows its
 * workers' events.
 */
export function engineEventToApi(
  event: CoordinatorEvent,
  taskOfWorker: (workerId: string) => string | null,
): ApiEventInput {
  const fields = event as unknown as Partial<Record<string, unknown>>;
  const text = (key: string) => (typeof fields[key] === "string" ? (fields[key] as string) : null);
  const workerId = text("workerId");
  const described = describe(event);
  return {
    type: event.type,
    at: event.atMs,
    level: described.level,
    message: described.message,
    source: described.source,
    worker_id: workerId,
    task_id: workerId === null ? null : taskOfWorker(workerId),
    dataset_id: text("datasetId"),
    barrier_id: text("barrierId"),
    job_id: text("jobId"),
    data: dataOf(event),
  };
}

/** An event as a log line of `/api/logs` (the original's `LogResponse`). */
export function eventToLog(event: ApiEvent): LogResponse {
  return {
    id: `log_${event.seq}`,
    timestamp: event.at,
    level: event.level,
    message: event.message,
    source: event.source,
    task_id: event.task_id,
    worker_id: event.worker_id,
  };
}

/** `[HH:MM:SS] message` in UTC, the original's task log line format. */
export function eventToLogLine(event: ApiEvent): string {
  return `[${new Date(event.at).toISOString().slice(11, 19)}] ${event.message}`;
}
