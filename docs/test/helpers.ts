import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CoordinatorProcess, startCoordinatorProcess } from "@strata/coordinator/testing";
import type * as MarkdownExamples from "../../scripts/markdown-examples.cjs";

/** The repository root. */
export const ROOT = join(__dirname, "..", "..");
/** This package's folder: TypeScript blocks run here, where every workspace package resolves. */
export const DOCS_DIR = join(__dirname, "..");

export const { fencedBlocks, runBashBlock, runTypeScriptBlock, startBashBlock } =
  require("../../scripts/markdown-examples.cjs") as typeof MarkdownExamples;

/** The fenced blocks of a Markdown file, by path from the repository root. */
export function blocksOf(file: string): MarkdownExamples.FencedBlock[] {
  return fencedBlocks(join(ROOT, file));
}

/** The one block of `blocks` whose code starts with `start`; throws when there is not exactly one. */
export function onlyBlock(
  blocks: readonly MarkdownExamples.FencedBlock[],
  start: string,
): MarkdownExamples.FencedBlock {
  const found = blocks.filter((b) => b.code.trimStart().startsWith(start));
  if (found.length !== 1) throw new Error(`${found.length} blocks start with ${start}`);
  return found[0] as MarkdownExamples.FencedBlock;
}

/**
 * Fails unless every block of `blocks` starts with one of `covered` (each a case of the calling
 * test), so a new block in the file needs a test before it lands. `text` blocks (diagrams, sample
 * output) are not code and are not counted.
 */
export function expectEveryBlockCovered(
  blocks: readonly MarkdownExamples.FencedBlock[],
  covered: readonly string[],
): void {
  const code = blocks.filter((b) => b.lang !== "text");
  for (const b of code) {
    expect({
      line: b.line,
      covered: covered.some((c) => b.code.trimStart().startsWith(c)),
    }).toEqual({ line: b.line, covered: true });
  }
  expect(code).toHaveLength(covered.length);
}

/** The coordinator's `listening` line, once a started block printed it. */
export async function listeningLine(
  started: MarkdownExamples.StartedBlock,
  ms = 60_000,
): Promise<{ grpc: string; http: string; tls: boolean; auth: boolean; state: string }> {
  const match = await started.waitFor(/^\{"msg":"listening".*\}$/m, ms);
  return JSON.parse(match[0]) as {
    grpc: string;
    http: string;
    tls: boolean;
    auth: boolean;
    state: string;
  };
}

/** Ctrl-C on a started block; expects every process of it gone without a SIGKILL. */
export async function interruptCleanly(started: MarkdownExamples.StartedBlock): Promise<string> {
  const result = await started.interrupt();
  expect({ timedOut: result.timedOut }).toEqual({ timedOut: false });
  return started.output();
}

/** A coordinator process (the built CLI) on a fixed gRPC address, for blocks that need one. */
export function startCoordinator(grpcAddr: string, dataDir: string): Promise<CoordinatorProcess> {
  return startCoordinatorProcess({ grpcAddr, dataDir, args: ["--log-level", "warn"] });
}

/** The commands `.ci/run` executes (what CI runs on a fresh clone). */
export function ciScript(): string {
  return readFileSync(join(ROOT, ".ci", "run"), "utf8");
}
