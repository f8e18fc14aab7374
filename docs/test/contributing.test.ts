import {
  blocksOf,
  ciScript,
  expectEveryBlockCovered,
  onlyBlock,
  ROOT,
  runBashBlock,
} from "./helpers.js";

// CONTRIBUTING.md's set-up commands run as written from the repository root.
jest.setTimeout(300_000);

const blocks = blocksOf("CONTRIBUTING.md");
const INSTALL = "npm install -g pnpm@12 && pnpm install";
const TEST_FULL = "pnpm test:full";

test("every code block of CONTRIBUTING.md is covered by a case below", () => {
  expectEveryBlockCovered(blocks, [INSTALL, TEST_FULL]);
});

test("the set-up command installs pnpm and the workspace, twice", async () => {
  for (let run = 0; run < 2; run++) {
    const result = await runBashBlock(onlyBlock(blocks, INSTALL).code, {
      cwd: ROOT,
      timeoutMs: 240_000,
    });
    expect({ code: result.code, stderr: result.stderr.includes("ERR_") }).toEqual({
      code: 0,
      stderr: false,
    });
  }
});

test("the test command is the README's, which CI runs", () => {
  expect(onlyBlock(blocks, TEST_FULL).code).toBe("pnpm test:full\n");
  expect(ciScript()).toMatch(/^pnpm test:full$/m);
});
