import { rm } from "node:fs/promises";
import path from "node:path";
import type * as MarkdownExamples from "../../../scripts/markdown-examples.cjs";

// Every fenced example in the README runs as written, twice in a row (a user re-running one must
// not trip over what the first run left), with scripts/markdown-examples.cjs.
const { fencedBlocks, runTypeScriptBlock } =
  require("../../../scripts/markdown-examples.cjs") as typeof MarkdownExamples;

const PACKAGE_DIR = path.resolve(__dirname, "..");
const README = path.join(PACKAGE_DIR, "README.md");
/** What the examples write, as they say. */
const EXAMPLE_PATHS = ["/tmp/strata-storage-example", "/tmp/strata-example-weights.bin"];

const clean = () => Promise.all(EXAMPLE_PATHS.map((p) => rm(p, { recursive: true, force: true })));
beforeAll(clean);
afterAll(clean);

const blocks = fencedBlocks(README);

test("every fenced block is a TypeScript example, and none is marked unrunnable", () => {
  expect(blocks.map((b) => b.lang)).toEqual(["ts", "ts", "ts", "ts", "ts"]);
  expect(blocks.filter((b) => !b.runnable)).toEqual([]);
});

/** What each example prints on its first and second run (a prefix of its stdout lines). */
const expected: Record<number, [string[], string[]]> = {
  0: [
    ["run-7/step-100/MANIFEST 37", "run-7/step-100/shard-0.bin 1048576"],
    ["step 100 was committed before"],
  ],
  1: [["hello"], ["hello"]],
  2: [
    ["16", "8"],
    ["16", "8"],
  ],
  3: [["emulate"], ["emulate"]],
  4: [[], []],
};

test.each(blocks.map((b, i) => [b.line, i] as const))(
  "the example at README.md:%i runs as written, twice",
  async (_line, index) => {
    const block = blocks[index] as MarkdownExamples.FencedBlock;
    for (const run of [0, 1] as const) {
      const result = await runTypeScriptBlock(block.code, { cwd: PACKAGE_DIR, timeoutMs: 60_000 });
      expect({ run, code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({
        run,
        code: 0,
        stderr: "",
      });
      const lines = result.stdout.split("\n").filter((l) => l !== "");
      expect(lines.slice(0, expected[index]?.[run].length)).toEqual(expected[index]?.[run]);
    }
  },
  120_000,
);
