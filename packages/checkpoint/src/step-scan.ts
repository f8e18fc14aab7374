import type { CallOptions } from "@strata/runtime-core";
import type { ObjectInfo, StorageBackend } from "@strata/storage";
import type { CheckpointLayout } from "./layout.js";

/** What storage holds of one save attempt of one rank. */
export interface AttemptScan {
  attemptId: string;
  /** The attempt's rank manifest: present once the attempt committed its part. */
  manifest?: ObjectInfo;
  data: ObjectInfo[];
}

/** What storage holds of one rank of one step. */
export interface RankScan {
  rank: number;
  attempts: Map<string, AttemptScan>;
  /** A format-1 rank manifest (`rank-NNNNN/MANIFEST.json`). */
  legacyManifest?: ObjectInfo;
  /** Files directly in the rank folder, in no attempt folder. */
  loose: ObjectInfo[];
}

/** What storage holds of one step, from one listing. */
export interface StepScan {
  step: number;
  stepManifest?: ObjectInfo;
  /** Retention's marker: the step is being deleted. */
  deleting?: ObjectInfo;
  ranks: Map<number, RankScan>;
}

/**
 * Lists a job once and groups its keys by step, rank and save attempt. Keys that are not
 * checkpoint keys (the `LATEST` hint, foreign files) are left out.
 */
export async function scanJob(
  storage: StorageBackend,
  layout: CheckpointLayout,
  options: CallOptions = {},
): Promise<Map<number, StepScan>> {
  return scanPrefix(storage, layout, layout.jobRoot, options);
}

/** Like {@link scanJob}, for the keys under `prefix` only (e.g. one step folder). */
export async function scanPrefix(
  storage: StorageBackend,
  layout: CheckpointLayout,
  prefix: string,
  options: CallOptions = {},
): Promise<Map<number, StepScan>> {
  const steps = new Map<number, StepScan>();
  const stepOf = (step: number) => {
    let s = steps.get(step);
    if (s === undefined) {
      s = { step, ranks: new Map() };
      steps.set(step, s);
    }
    return s;
  };
  const rankOf = (s: StepScan, rank: number) => {
    let r = s.ranks.get(rank);
    if (r === undefined) {
      r = { rank, attempts: new Map(), loose: [] };
      s.ranks.set(rank, r);
    }
    return r;
  };
  const listOptions = options.signal === undefined ? {} : { signal: options.signal };
  for await (const info of storage.list(prefix, listOptions)) {
    const parsed = layout.parse(info.key);
    if (parsed === undefined || parsed.kind === "other") continue;
    const s = stepOf(parsed.step);
    switch (parsed.kind) {
      case "step-manifest":
        s.stepManifest = info;
        break;
      case "deleting":
        s.deleting = info;
        break;
      case "legacy-rank-manifest":
        rankOf(s, parsed.rank).legacyManifest = info;
        break;
      case "rank-manifest":
      case "data": {
        const r = rankOf(s, parsed.rank);
        if (parsed.attemptId === undefined) {
          r.loose.push(info);
          break;
        }
        let a = r.attempts.get(parsed.attemptId);
        if (a === undefined) {
          a = { attemptId: parsed.attemptId, data: [] };
          r.attempts.set(parsed.attemptId, a);
        }
        if (parsed.kind === "rank-manifest") a.manifest = info;
        else a.data.push(info);
        break;
      }
    }
  }
  return steps;
}

/** Every key of a step that retention may delete, rank manifests before data. */
export function deletableKeys(s: StepScan): { manifests: string[]; data: string[] } {
  const manifests: string[] = [];
  const data: string[] = [];
  for (const r of s.ranks.values()) {
    if (r.legacyManifest !== undefined) manifests.push(r.legacyManifest.key);
    for (const a of r.attempts.values()) {
      if (a.manifest !== undefined) manifests.push(a.manifest.key);
      data.push(...a.data.map((i) => i.key));
    }
    data.push(...r.loose.map((i) => i.key));
  }
  return { manifests, data };
}

/** Every object of a step (all ranks and attempts), e.g. for sizes and ages. */
export function allObjects(s: StepScan): ObjectInfo[] {
  const out: ObjectInfo[] = [];
  if (s.stepManifest !== undefined) out.push(s.stepManifest);
  if (s.deleting !== undefined) out.push(s.deleting);
  for (const r of s.ranks.values()) {
    if (r.legacyManifest !== undefined) out.push(r.legacyManifest);
    out.push(...r.loose);
    for (const a of r.attempts.values()) {
      if (a.manifest !== undefined) out.push(a.manifest);
      out.push(...a.data);
    }
  }
  return out;
}

/** The committed rank manifests of a rank, newest attempt first (attempt ids start with the time). */
export function rankManifestsNewestFirst(r: RankScan): ObjectInfo[] {
  const manifests = [...r.attempts.values()]
    .filter((a) => a.manifest !== undefined)
    .sort((a, b) => (a.attemptId < b.attemptId ? 1 : a.attemptId > b.attemptId ? -1 : 0))
    .map((a) => a.manifest as ObjectInfo);
  if (r.legacyManifest !== undefined) manifests.push(r.legacyManifest);
  return manifests;
}
