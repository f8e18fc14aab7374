import { type CheckpointRecord, Code, RuntimeError } from "@strata/runtime-core";
import type { StoredCheckpointStep, StoreOp } from "../store/coordinator-store.js";
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

/** The outcome of recording one rank part. */
export interface RecordOutcome {
  ops: StoreOp[];
  complete: boolean;
  /** True when this part completed the step. */
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
 */
export class CheckpointLedger {
  readonly #jobs = new Map<string, Map<number, StepState>>();

  constructor(
    private readonly maxStepsPerJob: number,
    private readonly maxJobs: number,
  ) {}

  restore(steps: readonly StoredCheckpointStep[], records: readonly CheckpointRecord[]): void {
    for (const s of steps) {
      this.#job(s.jobId, true).set(s.step, {
        jobId: s.jobId,
        step: s.step,
        epoch: s.epoch,
        expected: new Set(s.expectedRanks),
        parts: new Map(),
        complete: s.complete,
        createdAtMs: s.createdAtMs,
        completedAtMs: s.completedAtMs,
      });
    }
    for (const r of records) {
      this.#jobs.get(r.jobId)?.get(r.step)?.parts.set(r.rank, r);
    }
  }

  /**
   * Records `record`. `expectedRanks` is used only when the step is new. Throws
   * RESOURCE_EXHAUSTED when a new job would exceed `maxJobs`.
   */
  record(record: CheckpointRecord, expectedRanks: readonly number[], nowMs: number): RecordOutcome {
    const job = this.#job(record.jobId, false);
    let step = job.get(record.step);
    const ops: StoreOp[] = [];
    if (step === undefined) {
      step = {
        jobId: record.jobId,
        step: record.step,
        epoch: record.epoch,
        expected: new Set(expectedRanks),
        parts: new Map(),
        complete: false,
        createdAtMs: nowMs,
        completedAtMs: 0,
      };
      job.set(record.step, step);
    }
    step.parts.set(record.rank, record);
    let reported = 0;
    for (const rank of step.expected) if (step.parts.has(rank)) reported++;
    const justCompleted = !step.complete && reported === step.expected.size;
    if (justCompleted) {
      step.complete = true;
      step.completedAtMs = nowMs;
    }
    ops.push({ t: "put_checkpoint_step", step: toStored(step) }, { t: "put_checkpoint", record });
    const prunedSteps = this.#prune(record.jobId, job);
    for (const s of prunedSteps)
      ops.push({ t: "delete_checkpoint_step", jobId: record.jobId, step: s });
    return {
      ops,
      complete: step.complete,
      justCompleted,
      ranksReported: reported,
      ranksExpected: step.expected.size,
      prunedSteps,
    };
  }

  /** The highest complete step of a job, with its parts by rank. */
  latestComplete(
    jobId: string,
  ): { step: number; epoch: number; parts: CheckpointRecord[] } | undefined {
    const job = this.#jobs.get(jobId);
    if (job === undefined) return undefined;
    let best: StepState | undefined;
    for (const s of job.values())
      if (s.complete && (best === undefined || s.step > best.step)) best = s;
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
        });
      }
    }
    return out.sort((a, b) => a.jobId.localeCompare(b.jobId) || a.step - b.step);
  }

  #job(jobId: string, restoring: boolean): Map<number, StepState> {
    let job = this.#jobs.get(jobId);
    if (job === undefined) {
      if (!restoring && this.#jobs.size >= this.maxJobs) {
        throw new RuntimeError(
          `too many jobs with checkpoint records (${this.maxJobs}); job "${jobId}" was not recorded`,
          { code: Code.ResourceExhausted, details: { jobId, maxJobs: this.maxJobs } },
        );
      }
      job = new Map();
      this.#jobs.set(jobId, job);
    }
    return job;
  }

  #prune(jobId: string, job: Map<number, StepState>): number[] {
    if (job.size <= this.maxStepsPerJob) return [];
    const latest = this.latestComplete(jobId)?.step;
    const candidates = [...job.keys()].filter((s) => s !== latest).sort((a, b) => a - b);
    const pruned: number[] = [];
    for (const s of candidates) {
      if (job.size <= this.maxStepsPerJob) break;
      job.delete(s);
      pruned.push(s);
    }
    return pruned;
  }
}

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
