import { type CallOptions, Code, RuntimeError } from "@strata/runtime-core";
import {
  type CheckpointStore,
  getOrUndefined,
  type StepCommit,
  signalOnly,
} from "./checkpoint-store.js";
import { checksumOf } from "./checksum.js";
import {
  encodeManifest,
  FORMAT_VERSION,
  type RankManifest,
  type StepManifest,
} from "./manifest.js";
import { mapConcurrent } from "./map-concurrent.js";
import { readObject } from "./object-io.js";

/** The part of a step commit that this process wrote itself: it must be the one committed. */
export interface OwnPart {
  rank: number;
  attemptId: string;
}

/**
 * Writes the step manifest (create-only) once every rank has committed a part that checks out:
 * its rank manifest parses, records this step and world size, and each of its objects exists
 * with the recorded size (`deep` also re-reads and checksums every byte). For each rank the
 * newest committed attempt is taken (a new attempt at a step supersedes a partial earlier one);
 * `own` names this process's attempt, which is the one taken for its rank. Missing ranks are
 * `FailedPrecondition`. If another process committed the step first, returns its manifest with
 * `created: false`.
 */
export async function commitStep(
  store: CheckpointStore,
  step: number,
  worldSize: number,
  options: CallOptions & { deep?: boolean; own?: OwnPart } = {},
): Promise<StepCommit> {
  const existing = await store.readStepManifest(step, options);
  if (existing !== undefined) return { manifest: existing.manifest, created: false };
  const s = await store.scanStep(step, options);
  const parts: { manifest: RankManifest; bytes: Uint8Array; key: string }[] = [];
  const missing: number[] = [];
  for (let r = 0; r < worldSize; r++) {
    const rankScan = s.ranks.get(r);
    const own = options.own?.rank === r ? options.own : undefined;
    let part: { manifest: RankManifest; bytes: Uint8Array; key: string } | undefined;
    if (own !== undefined) {
      const key = store.layout.rankManifestKey(step, r, own.attemptId);
      const read = await store.readRankManifestAt(key, step, r, options);
      part = read === undefined ? undefined : { ...read, key };
    } else if (rankScan !== undefined) {
      part = await store.newestReadableManifest(step, rankScan, options);
    }
    if (part === undefined) missing.push(r);
    else parts.push(part);
  }
  if (missing.length > 0) {
    throw new RuntimeError(
      `checkpoint step ${step} is not complete: rank(s) ${missing.join(", ")} of ${worldSize} have not committed`,
      { code: Code.FailedPrecondition, details: { step, missingRanks: missing } },
    );
  }
  for (const { manifest } of parts) {
    if (manifest.worldSize !== worldSize) {
      throw new RuntimeError(
        `rank ${manifest.rank} saved step ${step} with world size ${manifest.worldSize}, not ${worldSize}`,
        { code: Code.FailedPrecondition, details: { step, rank: manifest.rank } },
      );
    }
    // Every part is checked, ours too: a stat per pack is cheap, and it catches data that
    // disappeared under a save that stalled for long (e.g. swept as a dead attempt).
    const dir = store.layout.rankDir(step, manifest.rank);
    const problem = (await store.packProblems(dir, manifest.objects, options))[0];
    if (problem !== undefined) {
      throw new RuntimeError(problem.message, {
        code: Code.DataLoss,
        details: { key: problem.key },
      });
    }
    if (options.deep) {
      await mapConcurrent(manifest.objects, 4, (o) =>
        readObject(store.storage, store.layout.resolve(dir, o.key), o, {
          collect: false,
          ...signalOnly(options),
        }),
      );
    }
  }
  const first = parts[0]?.manifest as RankManifest;
  const stepDir = store.layout.stepDir(step);
  const manifest: StepManifest = {
    formatVersion: FORMAT_VERSION,
    kind: "step",
    jobId: store.jobId,
    step,
    epoch: first.epoch,
    worldSize,
    createdAtMs: store.clock.now(),
    ranks: parts.map(({ manifest: m, bytes, key }) => ({
      rank: m.rank,
      manifestKey: key.slice(stepDir.length),
      manifestChecksum: checksumOf(bytes),
      attemptId: m.attemptId,
      totalSizeBytes: m.totalSizeBytes,
      objectCount: m.objects.length,
    })),
    totalSizeBytes: parts.reduce((sum, p) => sum + p.manifest.totalSizeBytes, 0),
    dataPosition: first.dataPosition,
    metadata: first.metadata,
  };
  const bytes = encodeManifest(manifest);
  try {
    await store.storage.put(store.layout.stepManifestKey(step), bytes, {
      createOnly: true,
      ...signalOnly(options),
    });
  } catch (error) {
    const e = RuntimeError.from(error);
    if (e.code !== Code.AlreadyExists) throw e;
    const winner = await store.readStepManifest(step, options);
    if (winner === undefined) throw e;
    return { manifest: winner.manifest, created: false };
  }
  await writeLatestHint(store, step);
  return { manifest, created: true };
}

/** Best effort: the `LATEST` object is only a hint for humans and tools; listing is the truth. */
async function writeLatestHint(store: CheckpointStore, step: number): Promise<void> {
  try {
    const key = store.layout.latestKey();
    const current = await getOrUndefined(store.storage, key, {});
    if (current !== undefined) {
      const previous = Number(
        (JSON.parse(Buffer.from(current).toString("utf8")) as { step?: unknown }).step,
      );
      if (Number.isSafeInteger(previous) && previous > step) return;
    }
    const hint = {
      step,
      stepManifestKey: store.layout.stepManifestKey(step),
      updatedAtMs: store.clock.now(),
    };
    await store.storage.put(key, Buffer.from(`${JSON.stringify(hint)}\n`));
  } catch (error) {
    store.logger.debug({ err: error, step }, "could not update the LATEST hint (harmless)");
  }
}
