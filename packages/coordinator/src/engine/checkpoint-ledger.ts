import { type CheckpointRecord, Code, RuntimeError } from "@strata/runtime-core";
import type { StoredCheckpointStep, StoreOp } from "../store/coordinator-store.js";
import type { StateView } from "./draft.js";
import type { CheckpointStepView } from "./types.js";

interface StepState {
  jobId: string;
  step: number;
  epoch: number;
  expected: Set<number>;
  parts: Map<number, CheckpointRecord>;
  complete: boolean;
  createdAtMs: number;
  completedAtMs: number;
}

/** A planned checkpoint record. */
export interface PlannedRecord {
  ops: StoreOp[];
  complete: boolean;
  /** True when this part completes the step. */
  justCompleted: boolean;
  ranksReported: number;
  ranksExpected: number;
  prunedSteps: number[];
}

/**
 * Checkpoint metadata per (job, step, rank). A step is complete once every rank of its
 * membership reported. Only metadata lives here: the coordinator never reads, checks or deletes
 * the user's storage paths (the original deleted them on retention, §12.7). Pruning keeps the
 * newest `maxStepsPerJob` steps of a job and never drops its latest complete step.
 *
 * Memory changes only through {@link CheckpointLedger.apply} of committed ops.
 */
export class CheckpointLedger {
  readonly #jobs = new Map<string, Map<number, StepState>>();

  constructor(
    private readonly maxStepsPerJob: number,
    private readonly maxJobs: number,
  ) {}

  restore(steps: readonly StoredCheckpointStep[], records: readonly CheckpointRecord[]): void {
    for (const s of steps) this.#putStep(s);
    for (const r of records) this.#jobs.get(r.jobId)?.get(r.step)?.parts.set(r.rank, r);
  }

  // ------------------------------------------------------------------ committed state (reads)

  stored(jobId: string, step: number): StoredCheckpointStep | undefined {
    const s = this.#jobs.get(jobId)?.get(step);
    return s === undefined ? undefined : toStored(s);
  }

  parts(jobId: string, step: number): ReadonlyMap<number, CheckpointRecord> {
    return this.#jobs.get(jobId)?.get(step)?.parts ?? EMPTY;
  }

  stepsOf(jobId: string): number[] {
    return [...(this.#jobs.get(jobId)?.keys() ?? [])];
  }

  get jobCount(): number {
    return this.#jobs.size;
  }

  hasJob(jobId: string): boolean {
    return this.#jobs.has(jobId);
  }

  // ------------------------------------------------------------------ planning

  /**
   * Plans recording `record`. `expectedRanks` is used only when the step is new. Throws
   * RESOURCE_EXHAUSTED when a new job would exceed `maxJobs`.
   */
  planRecord(
    view: StateView,
    record: CheckpointRecord,
    expectedRanks: readonly number[],
    nowMs: number,
  ): PlannedRecord {
    const existing = view.checkpointStep(record.jobId, record.step);
    if (existing === undefined && !view.hasJob(record.jobId) && view.jobCount() >= this.maxJobs) {
      throw new RuntimeError(
        `too many jobs with checkpoint records (${this.maxJobs}); job "${record.jobId}" was not recorded`,
        { code: Code.ResourceExhausted, details: { jobId: record.jobId, maxJobs: this.maxJobs } },
      );
    }
    const expected = existing?.expectedRanks ?? [...expectedRanks].sort((a, b) => a - b);
    const parts = new Map(view.checkpointParts(record.jobId, record.step));
    parts.set(record.rank, record);
    let reported = 0;
    for (const rank of expected) if (parts.has(rank)) reported++;
    const wasComplete = existing?.complete ?? false;
    const complete = wasComplete || reported === expected.length;
    const step: StoredCheckpointStep = {
      jobId: record.jobId,
      step: record.step,
      epoch: existing?.epoch ?? record.epoch,
      expectedRanks: expected,
      complete,
      createdAtMs: existing?.createdAtMs ?? nowMs,
      completedAtMs: existing?.completedAtMs || (complete ? nowMs : 0),
    };
    const ops: StoreOp[] = [
      { t: "put_checkpoint_step", step },
      { t: "put_checkpoint", record },
    ];
    const prunedSteps = this.#planPrune(view, record.jobId, record.step, complete);
    for (const s of prunedSteps) {
      ops.push({ t: "delete_checkpoint_step", jobId: record.jobId, step: s });
    }
    return {
      ops,
      complete,
      justCompleted: complete && !wasComplete,
      ranksReported: reported,
      ranksExpected: expected.length,
      prunedSteps,
    };
  }

  /** Steps to drop beyond `maxStepsPerJob`, oldest first, never the latest complete one. */
  #planPrune(view: StateView, jobId: string, step: number, stepComplete: boolean): number[] {
    const steps = new Set(view.checkpointStepsOf(jobId));
    steps.add(step);
    if (steps.size <= this.maxStepsPerJob) return [];
    let latestComplete: number | undefined;
    for (const s of steps) {
      const complete = s === step ? stepComplete : view.checkpointStep(jobId, s)?.complete;
      if (complete === true && (latestComplete === undefined || s > latestComplete)) {
        latestComplete = s;
      }
    }
    const pruned: number[] = [];
    let size = steps.size;
    for (const s of [...steps].sort((a, b) => a - b)) {
      if (size <= this.maxStepsPerJob) break;
      if (s === latestComplete || s === step) continue;
      pruned.push(s);
      size--;
    }
    return pruned;
  }

  // ------------------------------------------------------------------ applying committed ops

  /** Applies a committed checkpoint op to memory. Other ops are ignored. */
  apply(op: StoreOp): void {
    switch (op.t) {
      case "put_checkpoint_step":
        this.#putStep(op.step);
        return;
      case "put_checkpoint":
        this.#jobs.get(op.record.jobId)?.get(op.record.step)?.parts.set(op.record.rank, op.record);
        return;
      case "delete_checkpoint_step": {
        const job = this.#jobs.get(op.jobId);
        job?.delete(op.step);
        if (job?.size === 0) this.#jobs.delete(op.jobId);
        return;
      }
      default:
        return;
    }
  }

  #putStep(s: StoredCheckpointStep): void {
    let job = this.#jobs.get(s.jobId);
    if (job === undefined) {
      job = new Map();
      this.#jobs.set(s.jobId, job);
    }
    const existing = job.get(s.step);
    job.set(s.step, {
      jobId: s.jobId,
      step: s.step,
      epoch: s.epoch,
      expected: new Set(s.expectedRanks),
      parts: existing?.parts ?? new Map(),
      complete: s.complete,
      createdAtMs: s.createdAtMs,
      completedAtMs: s.completedAtMs,
    });
  }

  // ------------------------------------------------------------------ reads

  /** The highest complete step of a job, with its parts by rank. */
  latestComplete(
    jobId: string,
  ): { step: number; epoch: number; parts: CheckpointRecord[] } | undefined {
    const job = this.#jobs.get(jobId);
    if (job === undefined) return undefined;
    let best: StepState | undefined;
    for (const s of job.values()) {
      if (s.complete && (best === undefined || s.step > best.step)) best = s;
    }
    if (best === undefined) return undefined;
    const parts = [...best.parts.values()].sort((a, b) => a.rank - b.rank);
    return { step: best.step, epoch: best.epoch, parts };
  }

  views(): CheckpointStepView[] {
    const out: CheckpointStepView[] = [];
    for (const job of this.#jobs.values()) {
      for (const s of job.values()) {
        let totalSizeBytes = 0;
        for (const p of s.parts.values()) totalSizeBytes += p.sizeBytes;
        out.push({
          jobId: s.jobId,
          step: s.step,
          epoch: s.epoch,
          expectedRanks: s.expected.size,
          ranksReported: [...s.parts.keys()].sort((a, b) => a - b),
          complete: s.complete,
          totalSizeBytes,
          createdAtMs: s.createdAtMs,
          completedAtMs: s.completedAtMs,
          parts: [...s.parts.values()].sort((a, b) => a.rank - b.rank),
          expected: [...s.expected].sort((a, b) => a - b),
        });
      }
    }
    return out.sort((a, b) => a.jobId.localeCompare(b.jobId) || a.step - b.step);
  }
}

const EMPTY: ReadonlyMap<number, CheckpointRecord> = new Map();

function toStored(s: StepState): StoredCheckpointStep {
  return {
    jobId: s.jobId,
    step: s.step,
    epoch: s.epoch,
    expectedRanks: [...s.expected].sort((a, b) => a - b),
    complete: s.complete,
    createdAtMs: s.createdAtMs,
    completedAtMs: s.completedAtMs,
  };
}
