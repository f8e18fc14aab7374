import { Code, RuntimeError } from "@strata/runtime-core";
import type { StorageBackend } from "@strata/storage";
import { SingleBar } from "cli-progress";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { type CheckpointManager, createCheckpointManager } from "./checkpoint-manager.js";
import type { CheckpointInfo, VerifyReport } from "./checkpoint-store.js";
import { openStorage as defaultOpenStorage, type OpenStorage } from "./open-storage.js";

/** Exit codes of `strata-checkpoint`. */
export const EXIT = {
  /** Success; for `verify`, every checked checkpoint is intact. */
  ok: 0,
  /** `verify` found a corrupt or partial checkpoint. */
  verifyFailed: 1,
  /** Bad command line or option values. */
  usage: 2,
  /** The job or step does not exist. */
  notFound: 3,
  /** Anything else: storage unreachable, permission denied, corrupt manifest on `inspect`. */
  failure: 4,
} as const;

/** Where the CLI writes, and how it opens storage (injectable for tests). */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  openStorage?: OpenStorage;
}

interface CommonOptions {
  storage: string;
  job: string;
  prefix: string;
  json?: boolean;
}

/**
 * Runs `strata-checkpoint` with `argv` (without the node and script entries) and resolves with
 * the exit code. Never calls `process.exit`, so it can be tested in-process.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const open = io.openStorage ?? defaultOpenStorage;
  const out = (text: string) => io.stdout.write(text);
  const program = new Command("strata-checkpoint")
    .description("Inspect, verify and prune Strata checkpoints in any storage.")
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (t) => io.stderr.write(t) })
    .showHelpAfterError("(run with --help for usage)");

  const common = (cmd: Command) =>
    cmd
      .requiredOption("--storage <uri>", "storage URI: a path, file:///path or s3://bucket/prefix")
      .requiredOption("--job <id>", "the job id")
      .option("--prefix <prefix>", "key prefix of the checkpoints inside the storage", "")
      .option("--json", "print JSON instead of text");

  const withManager = async (
    options: CommonOptions,
    fn: (manager: CheckpointManager, storage: StorageBackend) => Promise<number>,
  ): Promise<void> => {
    let storage: StorageBackend | undefined;
    try {
      storage = await open(options.storage);
      await using manager = createCheckpointManager({
        storage,
        prefix: options.prefix,
        jobId: options.job,
        // The CLI cannot know whether a coordinator commits this job's steps, so prune leaves
        // partial steps alone for --orphan-grace-ms (see RetentionPolicy.orphanGraceMs).
        stepCommit: "manual",
      });
      code = await fn(manager, storage);
    } finally {
      await storage?.close();
    }
  };

  common(program.command("list"))
    .description("list committed checkpoints (step, epoch, ranks, size)")
    .option("--all", "also show partial, corrupt and deleting steps")
    .action(async (options: CommonOptions & { all?: boolean }) => {
      await withManager(options, async (manager, storage) => {
        const list = await manager.list({ includePartial: options.all ?? false });
        if (list.length === 0) {
          const missing = await missingJob(storage, manager, options);
          if (missing !== undefined) {
            io.stderr.write(missing);
            return EXIT.notFound;
          }
        }
        if (options.json) out(`${JSON.stringify(list, null, 2)}\n`);
        else out(formatList(list));
        return EXIT.ok;
      });
    });

  common(program.command("inspect <step>"))
    .description("show a checkpoint's manifests: ranks, objects, sizes, checksums, metadata")
    .action(async (stepText: string, options: CommonOptions) => {
      const step = parseCount(stepText, "step");
      await withManager(options, async (manager) => {
        const detail = await inspect(manager, step);
        if (options.json) out(`${JSON.stringify(detail, null, 2)}\n`);
        else out(formatInspect(detail));
        return EXIT.ok;
      });
    });

  common(program.command("verify [step]"))
    .description(
      "read every byte of a checkpoint (default: every complete one) and check sizes and checksums",
    )
    .option("--no-progress", "never draw a progress bar")
    .action(
      async (stepText: string | undefined, options: CommonOptions & { progress: boolean }) => {
        const only = stepText === undefined ? undefined : parseCount(stepText, "step");
        await withManager(options, async (manager, storage) => {
          const steps = only === undefined ? (await manager.list()).map((c) => c.step) : [only];
          if (steps.length === 0) {
            io.stderr.write(
              (await missingJob(storage, manager, options)) ??
                `strata-checkpoint: job ${options.job} has no complete checkpoints\n`,
            );
            return EXIT.notFound;
          }
          const reports: VerifyReport[] = [];
          for (const step of steps) {
            const bar = options.progress && io.stderr.isTTY ? newBar(io.stderr, step) : undefined;
            try {
              reports.push(
                await manager.verify(step, {
                  onProgress: (done, total) => {
                    if (bar === undefined) return;
                    bar.setTotal(Math.max(1, total));
                    bar.update(done);
                  },
                }),
              );
            } finally {
              bar?.stop();
            }
          }
          if (options.json) out(`${JSON.stringify(reports, null, 2)}\n`);
          else out(reports.map(formatReport).join(""));
          return reports.every((r) => r.ok) ? EXIT.ok : EXIT.verifyFailed;
        });
      },
    );

  common(program.command("prune"))
    .description(
      "apply retention: keep the last N (and every K-th) step; never the newest verified",
    )
    .requiredOption("--keep-last <n>", "complete steps to keep", (v) =>
      parsePositive(v, "--keep-last"),
    )
    .option("--keep-every <k>", "also keep every step that is a multiple of k", (v) =>
      parsePositive(v, "--keep-every"),
    )
    .option(
      "--orphan-grace-ms <ms>",
      "age before data of abandoned saves is deleted (default 1 hour)",
      (v) => parseCountOption(v, "--orphan-grace-ms"),
    )
    .option("--dry-run", "only report what would be deleted")
    .action(
      async (
        options: CommonOptions & {
          keepLast: number;
          keepEvery?: number;
          orphanGraceMs?: number;
          dryRun?: boolean;
        },
      ) => {
        await withManager(options, async (manager, storage) => {
          const missing = await missingJob(storage, manager, options);
          if (missing !== undefined) {
            io.stderr.write(missing);
            return EXIT.notFound;
          }
          const result = await manager.prune({
            keepLast: options.keepLast,
            ...(options.keepEvery === undefined ? {} : { keepEvery: options.keepEvery }),
            ...(options.orphanGraceMs === undefined
              ? {}
              : { orphanGraceMs: options.orphanGraceMs }),
            dryRun: options.dryRun ?? false,
          });
          if (options.json) out(`${JSON.stringify(result, null, 2)}\n`);
          else {
            const verb = result.dryRun ? "would delete" : "deleted";
            out(
              `${verb} steps: ${result.deletedSteps.join(", ") || "none"}\n` +
                `kept steps: ${result.kept.join(", ") || "none"}\n` +
                `newest verified step: ${result.newestVerifiedStep ?? "none"}\n` +
                `${verb} ${result.deletedOrphanKeys.length} orphan object(s)\n`,
            );
          }
          return EXIT.ok;
        });
      },
    );

  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const e = RuntimeError.from(error);
    io.stderr.write(`strata-checkpoint: ${e.message}\n`);
    if (process.env.STRATA_DEBUG) io.stderr.write(`${(error as Error).stack}\n`);
    if (e.code === Code.InvalidArgument) return EXIT.usage;
    if (e.code === Code.NotFound) return EXIT.notFound;
    return EXIT.failure;
  }
}

/** Most keys read when looking for the job under other prefixes (a hint, not a search). */
const HINT_SCAN_KEYS = 10_000;

/**
 * Undefined when the job has anything under its prefix; otherwise the message saying so, with
 * the prefixes under which this job's checkpoints were found (a forgotten `--prefix`).
 */
async function missingJob(
  storage: StorageBackend,
  manager: CheckpointManager,
  options: CommonOptions,
): Promise<string | undefined> {
  for await (const _ of storage.list(manager.jobRoot, { pageSize: 1 })) return undefined;
  const where = options.prefix === "" ? "at the storage root" : `under prefix "${options.prefix}"`;
  const found = new Set<string>();
  const marker = `${options.job}/step-`;
  let seen = 0;
  for await (const info of storage.list("")) {
    const at = info.key.indexOf(marker);
    if (at === 0 || (at > 0 && info.key[at - 1] === "/")) {
      found.add(at === 0 ? "" : info.key.slice(0, at - 1));
    }
    if (++seen >= HINT_SCAN_KEYS) break;
  }
  const hint =
    found.size === 0
      ? ""
      : `; found it ${[...found]
          .map((p) => (p === "" ? "at the storage root (no --prefix)" : `with --prefix ${p}`))
          .join(", ")}`;
  return `strata-checkpoint: job ${options.job} has no checkpoints ${where} in ${options.storage}${hint}\n`;
}

function parseCount(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new RuntimeError(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`, {
      code: Code.InvalidArgument,
    });
  }
  return n;
}

function parseCountOption(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  }
  return n;
}

function parsePositive(text: string, name: string): number {
  const n = parseCountOption(text, name);
  if (n < 1) throw new InvalidArgumentError(`${name} must be at least 1`);
  return n;
}

function newBar(stream: CliIo["stderr"], step: number): SingleBar {
  const bar = new SingleBar({
    stream: stream as NodeJS.WriteStream,
    format: `verify step ${step} [{bar}] {percentage}% | {value}/{total} bytes`,
    hideCursor: true,
    clearOnComplete: false,
  });
  bar.start(1, 0);
  return bar;
}

/** Formats bytes for people: `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatList(list: CheckpointInfo[]): string {
  if (list.length === 0) return "no complete checkpoints (--all also shows partial ones)\n";
  const rows = list.map((c) => {
    // A partial step whose ranks committed nothing has no epoch or world size to show.
    const unknown = c.worldSize === 0;
    return [
      String(c.step),
      unknown ? "-" : String(c.epoch),
      `${c.ranks.length}/${unknown ? "?" : c.worldSize}`,
      formatBytes(c.totalSizeBytes),
      new Date(c.createdAtMs).toISOString(),
      c.state +
        (c.problem ? ` (${c.problem})` : "") +
        (c.note && c.state !== "complete" ? `: ${c.note}` : ""),
    ];
  });
  return table(["STEP", "EPOCH", "RANKS", "SIZE", "CREATED", "STATE"], rows);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd()}\n`;
  return line(head) + rows.map(line).join("");
}

interface InspectDetail {
  step: number;
  epoch: number;
  worldSize: number;
  createdAtMs: number;
  totalSizeBytes: number;
  dataPosition: unknown;
  metadata: Record<string, unknown>;
  ranks: {
    rank: number;
    attemptId: string;
    objects: {
      name: string;
      sizeBytes: number;
      rawSizeBytes: number;
      compression: string;
      checksum: string;
      algorithm: string;
      offset: number;
      dtype: string;
      key: string;
    }[];
  }[];
}

async function inspect(manager: CheckpointManager, step: number): Promise<InspectDetail> {
  const list = await manager.list({ includePartial: true });
  const info = list.find((c) => c.step === step);
  if (info === undefined) {
    throw new RuntimeError(`checkpoint step ${step} of job ${manager.jobId} does not exist`, {
      code: Code.NotFound,
    });
  }
  if (info.state !== "complete") {
    throw new RuntimeError(
      `checkpoint step ${step} is ${info.state}${info.problem ? `: ${info.problem}` : ""}`,
      {
        code: Code.FailedPrecondition,
      },
    );
  }
  const d = await manager.describe(step);
  return {
    step: d.step.step,
    epoch: d.step.epoch,
    worldSize: d.step.worldSize,
    createdAtMs: d.step.createdAtMs,
    totalSizeBytes: d.step.totalSizeBytes,
    dataPosition: d.step.dataPosition,
    metadata: d.step.metadata,
    ranks: d.ranks.map((r) => ({
      rank: r.rank,
      attemptId: r.attemptId,
      objects: r.objects.map((o) => ({
        name: o.name,
        sizeBytes: o.sizeBytes,
        rawSizeBytes: o.rawSizeBytes,
        compression: o.compression,
        checksum: o.checksum,
        algorithm: o.algorithm,
        offset: o.offset,
        dtype: o.dtype,
        key: o.key,
      })),
    })),
  };
}

function formatInspect(d: InspectDetail): string {
  let text =
    `step:          ${d.step}\n` +
    `epoch:         ${d.epoch}\n` +
    `world size:    ${d.worldSize}\n` +
    `created:       ${new Date(d.createdAtMs).toISOString()}\n` +
    `size:          ${formatBytes(d.totalSizeBytes)} (${d.totalSizeBytes} bytes)\n` +
    `data position: ${JSON.stringify(d.dataPosition)}\n` +
    `metadata:      ${JSON.stringify(d.metadata)}\n`;
  for (const r of d.ranks) {
    text += `\nrank ${r.rank} (attempt ${r.attemptId}):\n`;
    text += table(
      ["NAME", "DTYPE", "SIZE", "RAW", "COMPRESSION", "CHECKSUM", "PACK@OFFSET"],
      r.objects.map((o) => [
        o.name,
        o.dtype,
        String(o.sizeBytes),
        String(o.rawSizeBytes),
        o.compression,
        `${o.algorithm}:${o.checksum}`,
        `${o.key}@${o.offset}`,
      ]),
    );
  }
  return text;
}

function formatReport(r: VerifyReport): string {
  if (r.ok)
    return `step ${r.step}: OK (${r.objectCount} objects, ${formatBytes(r.verifiedBytes)})\n`;
  return `step ${r.step}: FAILED\n${r.problems.map((p) => `  ${p.key}: ${p.message}\n`).join("")}`;
}
