import { readFileSync } from "node:fs";
import { join } from "node:path";

// The README's HTTP API section promises its example runs as written: run it (twice, as a reader
// who tries it again would).
const { fencedBlocks, runTypeScriptBlock } =
  require("../../../../scripts/markdown-examples.cjs") as {
    fencedBlocks: (
      file: string,
      options: { lang: string },
    ) => { code: string; line: number; runnable: boolean }[];
    runTypeScriptBlock: (
      code: string,
      options: { cwd: string; timeoutMs: number },
    ) => Promise<{ code: number | null; stdout: string; stderr: string }>;
  };

const PACKAGE_DIR = join(__dirname, "..", "..");
const README = join(PACKAGE_DIR, "README.md");

test("the HTTP API section's TypeScript example runs and prints what it says", async () => {
  const lines = readFileSync(README, "utf8").split("\n");
  const start = lines.indexOf("## HTTP API") + 1;
  const end = lines.findIndex((l, i) => i >= start && l.startsWith("## "));
  const blocks = fencedBlocks(README, { lang: "ts" }).filter((b) => b.line > start && b.line < end);
  expect(blocks).toHaveLength(1);
  for (let run = 0; run < 2; run++) {
    const result = await runTypeScriptBlock((blocks[0] as { code: string }).code, {
      cwd: PACKAGE_DIR,
      timeoutMs: 60_000,
    });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toBe("true 0\ntrue\n");
  }
}, 120_000);
