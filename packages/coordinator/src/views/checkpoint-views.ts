import type { CheckpointRecord } from "@strata/runtime-core";
import type { CheckpointDetailResponse, CheckpointResponse } from "../api/checkpoints.js";
import type { CheckpointStepView } from "../engine/types.js";
import type { CheckpointTracker, RecordedPart } from "../monitor/checkpoint-tracker.js";

/**
 * Where a step's parts come from: full records (path, kind, metadata) for the latest complete
 * step of each job (the engine's recovery answer), and what `checkpoint_recorded` events told
 * for the others (worker, id, size, time; no path, kind or metadata).
 */
export interface CheckpointPartSources {
  tracker: CheckpointTracker;
  /** Full records of a step, when the engine offers them (the latest complete step of a job). */
  fullParts(jobId: string, step: number): readonly CheckpointRecord[] | undefined;
}

interface Part {
  rank: number;
  workerId: string;
  checkpointId: string;
  sizeBytes: number;
  path: string;
  recordedAtMs: number;
  kind: CheckpointRecord["kind"];
  metadata: Readonly<Record<string, string>>;
}

function partsOf(step: CheckpointStepView, sources: CheckpointPartSources): Part[] {
  const full = sources.fullParts(step.jobId, step.step);
  if (full !== undefined) {
    return full.map((r) => ({
      rank: r.rank,
      workerId: r.workerId,
      checkpointId: r.checkpointId,
      sizeBytes: r.sizeBytes,
      path: r.storagePath,
      recordedAtMs: r.recordedAtMs,
      kind: r.kind,
      metadata: r.metadata,
    }));
  }
  return sources.tracker.parts(step.jobId, step.step).map((p: RecordedPart) => ({
    ...p,
    path: "",
    kind: "full" as const,
    metadata: {},
  }));
}

/** A checkpoint step as `/api/checkpoints` shows it. */
export function toCheckpointResponse(
  step: CheckpointStepView,
  sources: CheckpointPartSources,
): CheckpointResponse {
  const parts = partsOf(step, sources);
  const main = parts.find((p) => p.rank === 0) ?? parts[0];
  return {
    id: `${step.jobId}:${step.step}`,
    step: step.step,
    epoch: step.epoch,
    size: step.totalSizeBytes,
    path: main?.path ?? "",
    created_at: step.createdAtMs,
    worker_id: main?.workerId ?? "",
    status: step.complete ? "completed" : "in_progress",
    job_id: step.jobId,
    ranks_reported: step.ranksReported.length,
    ranks_expected: step.expectedRanks,
    completed_at: step.complete
      ? (sources.tracker.completedAt(step.jobId, step.step) ?? step.createdAtMs)
      : null,
  };
}

/** `/api/checkpoints/:job/:step`: the step, its parts by rank, and the ranks still missing. */
export function toCheckpointDetail(
  step: CheckpointStepView,
  sources: CheckpointPartSources,
): CheckpointDetailResponse {
  const reported = new Set(step.ranksReported);
  const missing: number[] = [];
  // Expected ranks are 0 … expectedRanks − 1 when the writer named its world size (the usual
  // case); the engine's view keeps only their count.
  for (let rank = 0; rank < step.expectedRanks && missing.length < 10_000; rank++) {
    if (!reported.has(rank)) missing.push(rank);
  }
  return {
    checkpoint: toCheckpointResponse(step, sources),
    parts: partsOf(step, sources).map((p) => ({
      rank: p.rank,
      worker_id: p.workerId,
      checkpoint_id: p.checkpointId,
      size: p.sizeBytes,
      path: p.path,
      recorded_at: p.recordedAtMs,
      kind: p.kind,
      metadata: { ...p.metadata },
    })),
    missing_ranks: missing,
  };
}
