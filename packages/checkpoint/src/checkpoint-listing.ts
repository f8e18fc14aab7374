import { type CallOptions, Code, RuntimeError } from "@strata/runtime-core";
import { type CheckpointStore, getOrUndefined } from "./checkpoint-store.js";
import type { RankManifest, StepManifest } from "./manifest.js";
import { allObjects, type StepScan } from "./step-scan.js";

/** A checkpoint (one step) as `list` reports it. */
export interface CheckpointInfo {
  jobId: string;
  step: number;
  /** The epoch; for a partial step, the one its newest rank manifest records (0 when none did). */
  epoch: number;
  /** Ranks that save the step; 0 when unknown (a partial step whose ranks committed nothing). */
  worldSize: number;
  /** Ranks whose part is committed. */
  ranks: number[];
  /** Stored bytes of every rank's data objects (for a partial or deleting step: what is left). */
  totalSizeBytes: number;
  /** When the step manifest (or, for a partial step, the newest rank manifest) was written, ms since the epoch. */
  createdAtMs: number;
  /**
   * `complete`: the step manifest exists and parses. `partial`: the step was never committed
   * (some ranks committed, or a save stopped before any did; never visible to `latest`/`load`).
   * `corrupt`: the step manifest is damaged. `deleting`: retention started deleting the step and
   * was interrupted; the next retention run removes the rest.
   */
  state: "complete" | "partial" | "corrupt" | "deleting";
  /** Why a step is `corrupt`. */
  problem?: string;
  /** What a `partial` or `deleting` step holds, in words ("1 of 2 ranks committed; ..."). */
  note?: string;
}

/** What retention writes into `DELETING`: the step it is deleting, so listings can show it. */
export interface DeletingMarker {
  kind: "deleting";
  step: number;
  epoch: number;
  worldSize: number;
  ranks: number[];
  totalSizeBytes: number;
  createdAtMs: number;
  /** When deletion started, ms since the epoch. */
  startedAtMs: number;
}

/**
 * Every step of a job as `list` shows it, oldest first: complete steps, and with
 * `includePartial` also partial, corrupt and deleting ones, each described from what storage
 * holds (the step manifest, the newest rank manifest of each rank, or retention's marker).
 */
export async function listCheckpoints(
  store: CheckpointStore,
  options: CallOptions & { includePartial?: boolean } = {},
): Promise<CheckpointInfo[]> {
  const scan = await store.scan(options);
  const out: CheckpointInfo[] = [];
  for (const s of [...scan.values()].sort((a, b) => a.step - b.step)) {
    if (s.stepManifest !== undefined) {
      try {
        const read = await store.cachedStepManifest(s.step, s.stepManifest, options);
        if (read === undefined) continue; // deleted between list and read
        const info = infoFromStep(read.manifest, store.jobId);
        if (s.deleting === undefined) out.push(info);
        else if (options.includePartial) out.push(deletingInfo(info, s, "the step manifest"));
      } catch (error) {
        const e = RuntimeError.from(error);
        if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
        store.logger.warn({ step: s.step, err: e }, "checkpoint step manifest is unreadable");
        if (options.includePartial) {
          out.push({
            ...(await partialInfo(store, s, options)),
            state: "corrupt",
            problem: e.rawMessage,
          });
        }
      }
    } else if (options.includePartial) {
      if (s.deleting !== undefined) out.push(await deletingInfoFromMarker(store, s, options));
      else if (s.ranks.size > 0) out.push(await partialInfo(store, s, options));
    }
  }
  return out;
}

/** A partial step, from its newest rank manifest per rank (what each rank committed). */
async function partialInfo(
  store: CheckpointStore,
  s: StepScan,
  options: CallOptions,
): Promise<CheckpointInfo> {
  const committed: RankManifest[] = [];
  for (const r of [...s.ranks.values()].sort((a, b) => a.rank - b.rank)) {
    const newest = await store.newestReadableManifest(s.step, r, options);
    if (newest !== undefined) committed.push(newest.manifest);
  }
  const objects = allObjects(s);
  const worldSize = committed.reduce((w, m) => Math.max(w, m.worldSize), 0);
  const epoch = committed.reduce((e, m) => Math.max(e, m.epoch), 0);
  const attempts = [...s.ranks.values()].reduce((n, r) => n + r.attempts.size, 0);
  const note =
    committed.length === 0
      ? `no rank committed: data of ${attempts} unfinished save attempt(s)`
      : `${committed.length} of ${worldSize} rank(s) committed; no step manifest`;
  return {
    jobId: store.jobId,
    step: s.step,
    epoch,
    worldSize,
    ranks: committed.map((m) => m.rank),
    totalSizeBytes: objects
      .filter((i) => i.key.endsWith(".bin"))
      .reduce((n, i) => n + i.sizeBytes, 0),
    createdAtMs: committed.length
      ? Math.max(...committed.map((m) => m.createdAtMs))
      : objects.reduce((m, i) => Math.max(m, i.modifiedAtMs), 0),
    state: "partial",
    note,
  };
}

/** A step whose deletion was interrupted after its step manifest went: from retention's marker. */
async function deletingInfoFromMarker(
  store: CheckpointStore,
  s: StepScan,
  options: CallOptions,
): Promise<CheckpointInfo> {
  const marker = await readDeletingMarker(store, s.step, options);
  if (marker === undefined) {
    const partial = await partialInfo(store, s, options);
    return { ...partial, state: "deleting", note: `retention was deleting it; ${partial.note}` };
  }
  return deletingInfo(
    {
      jobId: store.jobId,
      step: marker.step,
      epoch: marker.epoch,
      worldSize: marker.worldSize,
      ranks: marker.ranks,
      totalSizeBytes: marker.totalSizeBytes,
      createdAtMs: marker.createdAtMs,
      state: "complete",
    },
    s,
    undefined,
  );
}

async function readDeletingMarker(
  store: CheckpointStore,
  step: number,
  options: CallOptions,
): Promise<DeletingMarker | undefined> {
  const bytes = await getOrUndefined(store.storage, store.layout.deletingKey(step), options);
  if (bytes === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as Partial<DeletingMarker>;
    if (parsed.kind !== "deleting" || parsed.step !== step) return undefined;
    return parsed as DeletingMarker;
  } catch {
    return undefined;
  }
}

export function infoFromStep(manifest: StepManifest, jobId: string): CheckpointInfo {
  return {
    jobId,
    step: manifest.step,
    epoch: manifest.epoch,
    worldSize: manifest.worldSize,
    ranks: manifest.ranks.map((r) => r.rank),
    totalSizeBytes: manifest.totalSizeBytes,
    createdAtMs: manifest.createdAtMs,
    state: "complete",
  };
}

/** A complete step's info turned into what is left of it while retention deletes it. */
function deletingInfo(
  info: CheckpointInfo,
  s: StepScan,
  stillThere: string | undefined,
): CheckpointInfo {
  const left = allObjects(s).filter((i) => i.key.endsWith(".bin"));
  return {
    ...info,
    state: "deleting",
    totalSizeBytes: left.reduce((n, i) => n + i.sizeBytes, 0),
    note: `retention was deleting it (interrupted); ${stillThere === undefined ? "the step manifest is gone" : `${stillThere} is still there`}, ${left.length} data object(s) left; the next retention run removes the rest`,
  };
}
