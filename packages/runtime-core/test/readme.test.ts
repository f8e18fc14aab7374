import path from "node:path";

import type * as MarkdownExamples from "../../../scripts/markdown-examples.cjs";

// Every fenced example in the README runs as written (scripts/markdown-examples.cjs).
const { fencedBlocks, runTypeScriptBlock } =
  require("../../../scripts/markdown-examples.cjs") as typeof MarkdownExamples;

const PACKAGE_DIR = path.resolve(__dirname, "..");
const README = path.join(PACKAGE_DIR, "README.md");

test("the README has exactly one fenced example, in TypeScript, and nothing it marks unrunnable", () => {
  const all = fencedBlocks(README);
  expect(all.map((b) => b.lang)).toEqual(["ts"]);
  expect(all.filter((b) => !b.runnable)).toEqual([]);
});

test("the retry example succeeds on the third call, well inside its 5 s, after two retries", async () => {
  const [block] = fencedBlocks(README, { lang: "ts" });
  const result = await runTypeScriptBlock(block?.code ?? "", {
    cwd: PACKAGE_DIR,
    env: { STRATA_HEARTBEAT_TIMEOUT_MS: "20000" },
    timeoutMs: 30_000,
  });
  expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
  const lines = result.stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.filter((l) => l.msg === "retrying").map((l) => l.attempt)).toEqual([1, 2]);
  expect(lines.find((l) => l.msg === "done")).toMatchObject({
    answer: 42,
    calls: 3,
    heartbeatTimeoutMs: 20000, // the environment overrides the default, as the comment says
  });
});
