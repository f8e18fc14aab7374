import { Code, RuntimeError } from "@strata/runtime-core";
import { validateKey } from "@strata/storage";

/**
 * Where everything lives in storage. For prefix `ckpt`, job `run-7`, step 12345, rank 3:
 *
 * ```
 * ckpt/run-7/LATEST                                                hint: newest committed step (JSON)
 * ckpt/run-7/step-000000012345/MANIFEST.json                       step manifest (written last, create-only)
 * ckpt/run-7/step-000000012345/DELETING                            retention is deleting this step
 * ckpt/run-7/step-000000012345/rank-00003/<attempt>/MANIFEST.json  rank manifest of one save attempt
 * ckpt/run-7/step-000000012345/rank-00003/<attempt>/pack-00000.bin data (buffers back to back)
 * ```
 *
 * Steps and ranks are zero-padded so a listing sorts them numerically. Each save attempt writes
 * its data and its rank manifest under its own `<attempt>` folder, so a new attempt at a step
 * (after a crash, or a retry) never collides with an earlier one: the step manifest names the
 * attempt it committed for each rank, and everything else in the step is a leftover. Version 1
 * layouts, with the rank manifest at `rank-00003/MANIFEST.json`, are still read.
 */
export const STEP_DIGITS = 12;
export const RANK_DIGITS = 5;
/** File name of both the step manifest and the rank manifests. */
export const MANIFEST_NAME = "MANIFEST.json";
/** File name of the `latest` hint. */
export const LATEST_NAME = "LATEST";
/** File name of the marker retention writes into a step before deleting it. */
export const DELETING_NAME = "DELETING";
/** Largest step we can encode in {@link STEP_DIGITS} digits. */
export const MAX_STEP = 10 ** STEP_DIGITS - 1;
/** Largest rank we can encode in {@link RANK_DIGITS} digits. */
export const MAX_RANK = 10 ** RANK_DIGITS - 1;

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Checks a job id: 1–128 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or digit. */
export function validateJobId(jobId: string): string {
  if (typeof jobId !== "string" || !JOB_ID.test(jobId)) {
    throw new RuntimeError(
      `invalid jobId ${JSON.stringify(jobId)}: use 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit`,
      { code: Code.InvalidArgument, details: { field: "jobId" } },
    );
  }
  return jobId;
}

/** Checks a manager prefix: empty, or a valid key without a trailing `/`. */
export function normalizePrefix(prefix: string): string {
  if (typeof prefix !== "string") {
    throw new RuntimeError("prefix must be a string", {
      code: Code.InvalidArgument,
      details: { field: "prefix" },
    });
  }
  const trimmed = prefix.replace(/\/+$/, "");
  if (trimmed !== "") {
    try {
      validateKey(trimmed);
    } catch (error) {
      throw new RuntimeError(`invalid prefix ${JSON.stringify(prefix)}`, {
        code: Code.InvalidArgument,
        cause: error,
        details: { field: "prefix" },
      });
    }
  }
  return trimmed;
}

/** Key builder for one job under one prefix. Every key it returns lies under {@link jobRoot}. */
export class CheckpointLayout {
  /** `<prefix>/<jobId>/`: everything of this job, and nothing else, starts with this. */
  readonly jobRoot: string;

  constructor(prefix: string, jobId: string) {
    const p = normalizePrefix(prefix);
    this.jobRoot = `${p === "" ? "" : `${p}/`}${validateJobId(jobId)}/`;
  }

  stepDir(step: number): string {
    return `${this.jobRoot}step-${String(step).padStart(STEP_DIGITS, "0")}/`;
  }

  rankDir(step: number, rank: number): string {
    return `${this.stepDir(step)}rank-${String(rank).padStart(RANK_DIGITS, "0")}/`;
  }

  stepManifestKey(step: number): string {
    return `${this.stepDir(step)}${MANIFEST_NAME}`;
  }

  /** The folder of one save attempt of one rank: its data and its rank manifest. */
  attemptDir(step: number, rank: number, attemptId: string): string {
    return `${this.rankDir(step, rank)}${attemptId}/`;
  }

  /** The rank manifest of one save attempt. */
  rankManifestKey(step: number, rank: number, attemptId: string): string {
    return `${this.attemptDir(step, rank, attemptId)}${MANIFEST_NAME}`;
  }

  /** Where format-1 writers put the rank manifest (one per rank, not per attempt); still read. */
  legacyRankManifestKey(step: number, rank: number): string {
    return `${this.rankDir(step, rank)}${MANIFEST_NAME}`;
  }

  /** The marker retention writes before it deletes a step. */
  deletingKey(step: number): string {
    return `${this.stepDir(step)}${DELETING_NAME}`;
  }

  latestKey(): string {
    return `${this.jobRoot}${LATEST_NAME}`;
  }

  /** Resolves a key stored relative to `dir` in a manifest, refusing anything that escapes `dir`. */
  resolve(dir: string, relativeKey: string): string {
    const key = `${dir}${relativeKey}`;
    validateKey(key);
    if (!key.startsWith(dir) || relativeKey.includes("..")) {
      throw new RuntimeError(`manifest key ${JSON.stringify(relativeKey)} escapes ${dir}`, {
        code: Code.DataLoss,
        details: { key: relativeKey },
      });
    }
    return key;
  }

  /** Whether `key` lies inside this job (the only keys we ever delete). */
  owns(key: string): boolean {
    return key.startsWith(this.jobRoot) && key.length > this.jobRoot.length;
  }

  /**
   * Parses a key under {@link jobRoot} into its step, rank and save attempt. Returns `undefined`
   * for keys that are not part of a step (the `LATEST` hint, foreign files).
   */
  parse(key: string): ParsedKey | undefined {
    if (!key.startsWith(this.jobRoot)) return undefined;
    const rest = key.slice(this.jobRoot.length);
    const m = STEP_KEY.exec(rest);
    if (m === null) return undefined;
    const step = Number(m[1]);
    const inStep = m[2] as string;
    if (inStep === MANIFEST_NAME) return { step, kind: "step-manifest" };
    if (inStep === DELETING_NAME) return { step, kind: "deleting" };
    const r = RANK_KEY.exec(inStep);
    if (r === null) return { step, kind: "other" };
    const rank = Number(r[1]);
    const inRank = r[2] as string;
    if (inRank === MANIFEST_NAME) return { step, rank, kind: "legacy-rank-manifest" };
    const slash = inRank.indexOf("/");
    // A file directly in the rank folder belongs to no attempt: a leftover, never committed.
    if (slash < 0) return { step, rank, attemptId: undefined, kind: "data" };
    const attemptId = inRank.slice(0, slash);
    const name = inRank.slice(slash + 1);
    if (name === MANIFEST_NAME) return { step, rank, attemptId, kind: "rank-manifest" };
    return { step, rank, attemptId, kind: "data" };
  }
}

const STEP_KEY = /^step-(\d{12})\/(.+)$/;
const RANK_KEY = /^rank-(\d{5})\/(.+)$/;

/**
 * What a key inside a job is. `other` is a file in a step folder that no checkpoint writes (left
 * alone by retention); `data` with no `attemptId` is a file directly in a rank folder.
 */
export type ParsedKey =
  | { step: number; kind: "step-manifest" | "deleting" | "other" }
  | { step: number; rank: number; kind: "legacy-rank-manifest" }
  | { step: number; rank: number; attemptId: string; kind: "rank-manifest" }
  | { step: number; rank: number; attemptId: string | undefined; kind: "data" };

/**
 * A new save attempt id: the time (ms since the epoch, 13 digits, so ids sort by time) and 8
 * random hex digits, e.g. `1764430000000-3fa2c91b`.
 */
export function newAttemptId(nowMs: number, random: string): string {
  return `${String(Math.max(0, Math.floor(nowMs))).padStart(13, "0")}-${random}`;
}

/** The file name of pack number `index` of a save attempt. */
export function packFileName(index: number): string {
  return `pack-${String(index).padStart(5, "0")}.bin`;
}
