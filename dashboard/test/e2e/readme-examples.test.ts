// The README's fenced examples, run as written (from the repository root, where a reader runs
// them). A block that cannot run says why in its first line, and that reason is checked here.
import { join } from "node:path";
import { DASHBOARD_DIR, REPO_DIR } from "./helpers/repo-paths.js";

const { fencedBlocks, runBashBlock } = require(
  join(REPO_DIR, "scripts", "markdown-examples.cjs"),
) as {
  fencedBlocks(
    file: string,
    options?: { lang?: string | string[] },
  ): { lang: string; code: string; line: number; runnable: boolean; reason: string | undefined }[];
  runBashBlock(
    code: string,
    options: { cwd: string; timeoutMs?: number },
  ): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }>;
};

const blocks = fencedBlocks(join(DASHBOARD_DIR, "README.md"));

test("the README has examples, all of them bash, at least one runnable", () => {
  expect(blocks.map((b) => b.lang)).toEqual(blocks.map(() => "bash"));
  expect(blocks.some((b) => b.runnable)).toBe(true);
});

test.each(blocks.map((b) => [b.line, b] as const))(
  "README example at line %i",
  async (_line, block) => {
    if (!block.runnable) {
      // Not runnable on purpose, and it says why where a reader sees it.
      expect(block.reason).toMatch(/\S{10,}/);
      return;
    }
    const result = await runBashBlock(block.code, { cwd: REPO_DIR, timeoutMs: 90_000 });
    if (result.code !== 0) console.error(result.stdout, result.stderr);
    expect(result).toMatchObject({ code: 0, timedOut: false });
  },
  120_000,
);
