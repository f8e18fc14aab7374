import { type CallOptions, Code, RuntimeError } from "@strata/runtime-core";
import type { ObjectInfo } from "@strata/storage";
import type { DeletingMarker } from "./checkpoint-listing.js";
import type { CheckpointStore, ReadStep } from "./checkpoint-store.js";
import { allObjects, deletableKeys, type StepScan } from "./step-scan.js";

/** Which committed checkpoints to keep. Everything else (older, complete) may be deleted. */
export interface RetentionPolicy {
  /** Keep the newest `keepLast` complete steps. At least 1. */
  keepLast: number;
  /** Also keep every step that is a multiple of `keepEvery` (e.g. 1000), forever. Default: none. */
  keepEvery?: number;
  /**
   * How long a partial step older than the newest complete step is left alone when it may still
   * be committed by someone else, in ms: with `stepCommit: "manual"` (a coordinator commits
   * steps) and for `strata-checkpoint prune`. Default 3,600,000 (1 hour). With the default
   * `stepCommit: "auto"` such a step is abandoned at once (the save that could have committed it
   * is over: every rank writes its steps in order), and leftovers of superseded attempts inside a
   * complete step are always deleted at once (the step's commit is final).
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

/** Options for `prune`. */
export interface PruneOptions extends CallOptions, Partial<RetentionPolicy> {
  /** Report what would be deleted, delete nothing. Default false. */
  dryRun?: boolean;
}

/** What `prune` did (or, in a dry run, would do). */
export interface PruneResult {
  dryRun: boolean;
  kept: number[];
  /** Complete steps deleted (including steps whose interrupted deletion this run finished). */
  deletedSteps: number[];
  /** Keys of data and manifests from uncommitted, superseded or abandoned saves that were deleted. */
  deletedOrphanKeys: string[];
  newestVerifiedStep: number | undefined;
  /** Why each kept step is kept. */
  reasons: Record<number, string[]>;
  /**
   * Steps (to delete, or to clear of leftovers) this run left for a later one because it reached
   * its budget. Always 0 for `prune()`; the run after each commit is bounded.
   */
  deferred: number;
}

/** How one retention run goes. */
export interface RetentionRunOptions extends CallOptions {
  dryRun: boolean;
  /**
   * Most units of work this run does: a unit is one step deleted, or one step cleared of
   * leftovers. `Infinity` for an explicit prune; the run after each commit uses
   * {@link RETENTION_BUDGET_PER_COMMIT}, so a backlog (after many kills) shrinks over a few
   * commits instead of stalling one.
   */
  budget: number;
  /**
   * Whether a partial step older than the newest complete step is abandoned at once (`auto` step
   * commit) or only after `orphanGraceMs` (a coordinator may still commit it).
   */
  abandonOldPartialSteps: boolean;
}

/** Units of work (steps deleted or cleared of leftovers) the retention run after a commit may do. */
export const RETENTION_BUDGET_PER_COMMIT = 8;

/**
 * Applies a retention policy to what storage holds, in this order, so the most important work is
 * done first when a run is cut short (a kill, the budget):
 *
 * 1. finish deletions that were interrupted (a step with a `DELETING` marker);
 * 2. delete the complete steps {@link planRetention} drops, oldest first: write the `DELETING`
 *    marker (so a listing shows what the step is while it goes), delete the step manifest (so a
 *    half-deleted step is never listed as complete), then the rank manifests, then the data, then
 *    the marker;
 * 3. clear leftovers of superseded or failed save attempts out of the complete steps kept
 *    (everything outside the attempt folders the step manifest names);
 * 4. delete partial steps older than the newest complete step, at once or after
 *    `orphanGraceMs` (see {@link RetentionRunOptions.abandonOldPartialSteps}). Partial steps
 *    newer than the newest complete one are never touched: they may be in flight.
 *
 * Step manifests are read once per process (cached by stored version) and steps this process
 * wrote count as verified, so a run costs one listing of the job plus its deletions. Every key
 * is checked to lie inside the job before it is deleted.
 */
export async function applyRetention(
  store: CheckpointStore,
  policy: RetentionPolicy,
  options: RetentionRunOptions,
): Promise<PruneResult> {
  const p = normalizeRetention(policy);
  const { dryRun } = options;
  const call: CallOptions = options.signal === undefined ? {} : { signal: options.signal };
  let budget = options.budget;
  let deferred = 0;
  const take = (): boolean => {
    if (budget <= 0) {
      deferred++;
      return false;
    }
    budget--;
    return true;
  };
  const scan = await store.scan(call);
  const steps = [...scan.values()].sort((a, b) => a.step - b.step);
  const deletedSteps: number[] = [];
  const deletedOrphanKeys: string[] = [];

  // 1. Deletions a kill interrupted.
  for (const s of steps.filter((x) => x.deleting !== undefined)) {
    if (!take()) continue;
    deletedSteps.push(s.step);
    if (!dryRun) await deleteStep(store, s, undefined, call);
  }

  // 2. Complete steps the policy drops.
  const complete = steps.filter((x) => x.stepManifest !== undefined && x.deleting === undefined);
  const manifests = new Map<number, ReadStep>();
  const candidates: RetentionCandidate[] = [];
  for (const s of complete) {
    const info = s.stepManifest as ObjectInfo;
    let createdAtMs = info.modifiedAtMs;
    try {
      const read = await store.cachedStepManifest(s.step, info, call);
      if (read !== undefined) {
        createdAtMs = read.manifest.createdAtMs;
        manifests.set(s.step, read);
      }
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
    }
    candidates.push({ step: s.step, createdAtMs });
  }
  const newestVerified = await store.newestVerifiedStep([...manifests.keys()], call);
  const plan = planRetention(candidates, p, newestVerified);
  const dropped = new Set<number>();
  for (const step of plan.delete) {
    const s = scan.get(step) as StepScan;
    if (!take()) continue;
    dropped.add(step);
    deletedSteps.push(step);
    if (!dryRun) {
      store.logger.info({ step }, "retention: deleting checkpoint");
      await deleteStep(store, s, manifests.get(step), call);
    }
  }

  // 3. Leftovers of other save attempts inside the complete steps kept.
  for (const s of complete) {
    const read = manifests.get(s.step);
    if (read === undefined || dropped.has(s.step) || plan.delete.includes(s.step)) continue;
    const leftovers = leftoversOf(store, s, read);
    if (leftovers.manifests.length + leftovers.data.length === 0) continue;
    if (!take()) continue;
    deletedOrphanKeys.push(...leftovers.manifests, ...leftovers.data);
    if (!dryRun) {
      await store.deleteKeys(leftovers.manifests, call);
      await store.deleteKeys(leftovers.data, call);
    }
  }

  // 4. Partial steps older than the newest complete step.
  const newestComplete = complete.reduce((m, s) => Math.max(m, s.step), -1);
  const cutoffMs = store.clock.now() - p.orphanGraceMs;
  for (const s of steps) {
    if (s.stepManifest !== undefined || s.deleting !== undefined || s.step >= newestComplete) {
      continue;
    }
    const objects = allObjects(s);
    if (objects.length === 0) continue;
    const abandoned =
      options.abandonOldPartialSteps || objects.every((i) => i.modifiedAtMs <= cutoffMs);
    if (!abandoned || !take()) continue;
    const keys = deletableKeys(s);
    deletedOrphanKeys.push(...keys.manifests, ...keys.data);
    if (!dryRun) {
      await store.deleteKeys(keys.manifests, call);
      await store.deleteKeys(keys.data, call);
    }
  }

  return {
    dryRun,
    kept: plan.keep,
    deletedSteps: [...new Set(deletedSteps)].sort((a, b) => a - b),
    deletedOrphanKeys,
    newestVerifiedStep: newestVerified,
    reasons: Object.fromEntries(plan.reasons),
    deferred,
  };
}

/**
 * Deletes one step: the `DELETING` marker first (unless it is there already), then the step
 * manifest, the rank manifests, the data, and the marker last.
 */
async function deleteStep(
  store: CheckpointStore,
  s: StepScan,
  read: ReadStep | undefined,
  call: CallOptions,
): Promise<void> {
  const markerKey = store.layout.deletingKey(s.step);
  if (s.deleting === undefined) {
    const m = read?.manifest;
    const marker: DeletingMarker = {
      kind: "deleting",
      step: s.step,
      epoch: m?.epoch ?? 0,
      worldSize: m?.worldSize ?? 0,
      ranks: m?.ranks.map((r) => r.rank) ?? [],
      totalSizeBytes: m?.totalSizeBytes ?? 0,
      createdAtMs: m?.createdAtMs ?? s.stepManifest?.modifiedAtMs ?? 0,
      startedAtMs: store.clock.now(),
    };
    await store.storage.put(markerKey, Buffer.from(`${JSON.stringify(marker)}\n`), call);
  }
  store.forget(s.step);
  if (s.stepManifest !== undefined) await store.deleteKeys([s.stepManifest.key], call);
  const keys = deletableKeys(s);
  await store.deleteKeys(keys.manifests, call);
  await store.deleteKeys(keys.data, call);
  await store.deleteKeys([markerKey], call);
}

/**
 * What in a complete step is not part of its commit: every rank file outside the attempt
 * folders (and rank manifests) the step manifest names. Found without reading rank manifests,
 * so a damaged one cannot make committed data look like a leftover.
 */
function leftoversOf(
  store: CheckpointStore,
  s: StepScan,
  read: ReadStep,
): { manifests: string[]; data: string[] } {
  const stepDir = store.layout.stepDir(s.step);
  const committed = new Map(read.manifest.ranks.map((r) => [r.rank, r]));
  const manifests: string[] = [];
  const data: string[] = [];
  for (const r of s.ranks.values()) {
    const entry = committed.get(r.rank);
    const committedManifest = entry === undefined ? undefined : `${stepDir}${entry.manifestKey}`;
    if (r.legacyManifest !== undefined && r.legacyManifest.key !== committedManifest) {
      manifests.push(r.legacyManifest.key);
    }
    data.push(...r.loose.map((i) => i.key));
    for (const a of r.attempts.values()) {
      if (a.attemptId === entry?.attemptId) continue;
      if (a.manifest !== undefined) manifests.push(a.manifest.key);
      data.push(...a.data.map((i) => i.key));
    }
  }
  return { manifests, data };
}
