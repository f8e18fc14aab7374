import { Code, RuntimeError } from "@strata/runtime-core";

/** Which committed checkpoints to keep. Everything else (older, complete) may be deleted. */
export interface RetentionPolicy {
  /** Keep the newest `keepLast` complete steps. At least 1. */
  keepLast: number;
  /** Also keep every step that is a multiple of `keepEvery` (e.g. 1000), forever. Default: none. */
  keepEvery?: number;
  /**
   * Data left by saves that never committed (a crash, a lost race) is deleted once it is older
   * than this, in ms, and older than the newest complete step. Default 3,600,000 (1 hour), far
   * longer than any save should take, so a save still in progress elsewhere is never touched.
   */
  orphanGraceMs?: number;
}

/** A complete step, as the planner sees it. */
export interface RetentionCandidate {
  step: number;
  createdAtMs: number;
}

/** What the planner decided. */
export interface RetentionPlan {
  keep: number[];
  delete: number[];
  /** Why a step is kept, for dry runs. */
  reasons: Map<number, string[]>;
}

/** Checks a policy at the edge and fills defaults. */
export function normalizeRetention(policy: RetentionPolicy): Required<RetentionPolicy> {
  const fail = (field: string, why: string): never => {
    throw new RuntimeError(`invalid retention: ${field} ${why}`, {
      code: Code.InvalidArgument,
      details: { field: `retention.${field}` },
    });
  };
  if (typeof policy !== "object" || policy === null) fail("policy", "must be an object");
  if (!Number.isSafeInteger(policy.keepLast) || policy.keepLast < 1) {
    fail("keepLast", `must be an integer >= 1, got ${String(policy.keepLast)}`);
  }
  const keepEvery = policy.keepEvery ?? 0;
  if (!Number.isSafeInteger(keepEvery) || keepEvery < 0) {
    fail("keepEvery", `must be a positive integer, got ${String(policy.keepEvery)}`);
  }
  const orphanGraceMs = policy.orphanGraceMs ?? 3_600_000;
  if (!Number.isFinite(orphanGraceMs) || orphanGraceMs < 0) {
    fail("orphanGraceMs", `must be >= 0, got ${String(policy.orphanGraceMs)}`);
  }
  return { keepLast: policy.keepLast, keepEvery, orphanGraceMs };
}

/**
 * Decides which complete steps to delete. Kept are: the newest `keepLast` steps; every multiple
 * of `keepEvery`; the newest verified step and everything newer (so a run always has a good
 * checkpoint to fall back to, and corrupt newer ones stay for inspection); and the most recently
 * created step, even when its step number is lower (a run restarted from an earlier step must not
 * see its fresh checkpoint deleted). With no verified step at all, nothing is deleted.
 */
export function planRetention(
  candidates: readonly RetentionCandidate[],
  policy: Required<RetentionPolicy>,
  newestVerifiedStep: number | undefined,
): RetentionPlan {
  const sorted = [...candidates].sort((a, b) => a.step - b.step);
  const reasons = new Map<number, string[]>();
  const keepBecause = (step: number, why: string) => {
    const list = reasons.get(step) ?? [];
    list.push(why);
    reasons.set(step, list);
  };
  for (const c of sorted.slice(-policy.keepLast)) keepBecause(c.step, `last ${policy.keepLast}`);
  if (policy.keepEvery > 0) {
    for (const c of sorted) {
      if (c.step % policy.keepEvery === 0) keepBecause(c.step, `every ${policy.keepEvery}`);
    }
  }
  if (newestVerifiedStep === undefined) {
    for (const c of sorted) keepBecause(c.step, "no verified checkpoint exists");
  } else {
    for (const c of sorted) {
      if (c.step === newestVerifiedStep) keepBecause(c.step, "newest verified");
      else if (c.step > newestVerifiedStep) keepBecause(c.step, "newer than the newest verified");
    }
  }
  const newestCreated = sorted.reduce<RetentionCandidate | undefined>(
    (best, c) => (best === undefined || c.createdAtMs >= best.createdAtMs ? c : best),
    undefined,
  );
  if (newestCreated !== undefined) keepBecause(newestCreated.step, "most recently created");
  const keep = sorted.filter((c) => reasons.has(c.step)).map((c) => c.step);
  const del = sorted.filter((c) => !reasons.has(c.step)).map((c) => c.step);
  return { keep, delete: del, reasons };
}
