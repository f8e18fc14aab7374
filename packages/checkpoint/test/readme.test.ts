import { rm } from "node:fs/promises";
import path from "node:path";
import { createLocalStorage } from "@strata/storage";
import type * as MarkdownExamples from "../../../scripts/markdown-examples.cjs";
import { createCheckpointManager, toTypedArray } from "../src/index.js";

// Every fenced example in the README runs as written, twice in a row (as a user re-running it
// would), with scripts/markdown-examples.cjs: the TypeScript ones inside this package, the shell
// one from the repository root as the README says.
const { fencedBlocks, runBashBlock, runTypeScriptBlock } =
  require("../../../scripts/markdown-examples.cjs") as typeof MarkdownExamples;

const PACKAGE_DIR = path.resolve(__dirname, "..");
const REPO_ROOT = path.resolve(PACKAGE_DIR, "..", "..");
const README = path.join(PACKAGE_DIR, "README.md");
const EXAMPLE_ROOT = "/tmp/strata-checkpoint-example"; // what the examples write, as they say

const clean = () => rm(EXAMPLE_ROOT, { recursive: true, force: true });
beforeAll(clean);
afterAll(clean);

const blocks = fencedBlocks(README);
const ts = blocks.filter((b) => b.lang === "ts");

function expectSuccess(result: MarkdownExamples.BlockResult, what: string): void {
  expect({ what, code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({
    what,
    code: 0,
    stderr: "",
  });
}

test("the README's blocks: two TypeScript examples, one shell example, and two text figures", () => {
  expect(blocks.map((b) => b.lang)).toEqual(["ts", "ts", "text", "text", "bash"]);
  // The text blocks are the key layout and the CLI synopsis, not examples to run.
  const text = blocks.filter((b) => b.lang === "text").map((b) => b.code.split("\n")[0]);
  expect(text[0]).toMatch(/^<prefix>\/<jobId>\/LATEST /);
  expect(text[1]).toMatch(/^strata-checkpoint list /);
  expect(blocks.filter((b) => !b.runnable)).toEqual([]);
});

test("save, resume: the first run saves and prunes, the second resumes from its last step", async () => {
  const block = ts[0] as MarkdownExamples.FencedBlock;
  const first = await runTypeScriptBlock(block.code, { cwd: PACKAGE_DIR, timeoutMs: 120_000 });
  expectSuccess(first, "first run");
  expect(first.stdout).toContain("fresh run");
  for (const step of [0, 100, 900]) expect(first.stdout).toContain(`committed ${step}\n`);
  const second = await runTypeScriptBlock(block.code, { cwd: PACKAGE_DIR, timeoutMs: 120_000 });
  expectSuccess(second, "second run");
  expect(second.stdout).toContain("resumed from step 900");
  expect(second.stdout).not.toContain("committed");

  const reader = createCheckpointManager({
    storage: createLocalStorage({ root: EXAMPLE_ROOT }),
    prefix: "runs",
    jobId: "llama-7b-run-3",
  });
  // keepLast 3 plus every 1000th step (0).
  expect((await reader.list()).map((c) => c.step)).toEqual([0, 700, 800, 900]);
  const loaded = await reader.load();
  const weights = toTypedArray(loaded.buffers.weights as Uint8Array, "float32") as Float32Array;
  expect(weights[0]).toBe(900);
  expect(loaded.dataPosition).toEqual({ shard: 17, offset: 4096 });
  await reader.close();
}, 300_000);

test("several ranks: the step commits once both parts are in; manual commit; twice", async () => {
  const block = ts[1] as MarkdownExamples.FencedBlock;
  for (const step of [100, 200]) {
    const result = await runTypeScriptBlock(block.code, { cwd: PACKAGE_DIR, timeoutMs: 120_000 });
    expectSuccess(result, `run saving step ${step}`);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^${step} \\[ (false, true|true, false|true, true) \\]$`));
    expect(lines.slice(1)).toEqual(["4096", "false", "true"]);
  }
}, 300_000);

test("the CLI commands run from the repository root, twice", async () => {
  const block = blocks.find((b) => b.lang === "bash") as MarkdownExamples.FencedBlock;
  for (const run of [1, 2]) {
    const result = await runBashBlock(block.code, { cwd: REPO_ROOT, timeoutMs: 240_000 });
    expectSuccess(result, `run ${run}`);
    expect(result.stdout).toMatch(/\n900\s+0\s+1\/1\s/); // list: step 900, epoch 0, 1 of 1 rank
    expect(result.stdout).toContain("step 900: OK");
    expect(result.stdout).toContain("would delete steps: 0"); // keepLast 3 without keepEvery
  }
}, 600_000);
