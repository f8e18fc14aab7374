import { Code, RuntimeError } from "@strata/runtime-core";
import { validateKey } from "@strata/storage";

/**
 * Where everything lives in storage. For prefix `ckpt`, job `run-7`, step 12345, rank 3:
 *
 * ```
 * ckpt/run-7/LATEST                                     hint: newest committed step (JSON)
 * ckpt/run-7/step-000000012345/MANIFEST.json            step manifest (written last, create-only)
 * ckpt/run-7/step-000000012345/rank-00003/MANIFEST.json rank manifest (create-only)
 * ckpt/run-7/step-000000012345/rank-00003/<attempt>/pack-00000.bin          data (buffers back to back)
 * ```
 *
 * Steps and ranks are zero-padded so a listing sorts them numerically. Each save attempt writes
 * its data under its own random `<attempt>` folder, so a retried or concurrent save of the same
 * step and rank never overwrites bytes that a committed manifest points at.
 */
export const STEP_DIGITS = 12;
export const RANK_DIGITS = 5;
/** File name of both the step manifest and the rank manifests. */
export const MANIFEST_NAME = "MANIFEST.json";
/** File name of the `latest` hint. */
export const LATEST_NAME = "LATEST";
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

  rankManifestKey(step: number, rank: number): string {
    return `${this.rankDir(step, rank)}${MANIFEST_NAME}`;
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
   * Parses a key under {@link jobRoot} into its step and rank. Returns `undefined` for keys that
   * are not part of a step (the `LATEST` hint, foreign files).
   */
  parse(key: string): ParsedKey | undefined {
    if (!key.startsWith(this.jobRoot)) return undefined;
    const rest = key.slice(this.jobRoot.length);
    const m =
      /^step-(\d{12})\/(?:(MANIFEST\.json)$|rank-(\d{5})\/(?:(MANIFEST\.json)$|(.+)$))/.exec(rest);
    if (m === null) return undefined;
    const step = Number(m[1]);
    if (m[2] !== undefined) return { step, kind: "step-manifest" };
    const rank = Number(m[3]);
    if (m[4] !== undefined) return { step, rank, kind: "rank-manifest" };
    return { step, rank, kind: "data" };
  }
}

/** What a key inside a job is. */
export type ParsedKey =
  | { step: number; kind: "step-manifest" }
  | { step: number; rank: number; kind: "rank-manifest" | "data" };

/** The file name of pack number `index` of a save attempt. */
export function packFileName(index: number): string {
  return `pack-${String(index).padStart(5, "0")}.bin`;
}
