import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

// The root README's "Import packages in worker code" example is run as written (with its
// storage folder moved to a temporary one), so the first thing users copy keeps working.
const run = promisify(execFile);
const packageDir = join(__dirname, "..");

function workerCodeExample(): string {
  const readme = readFileSync(join(packageDir, "..", "..", "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### 1. Import packages in worker code"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error("README has no worker-code example");
  return match[1];
}

test("the README's worker-code example runs and prints what its comments say", async () => {
  const storageDir = mkdtempSync(join(tmpdir(), "strata-readme-"));
  // Inside the package so workspace imports resolve; removed afterwards.
  const script = join(packageDir, `.readme-example-${process.pid}.ts`);
  try {
    const code = workerCodeExample().replace(
      "file:///tmp/strata-checkpoints",
      `file://${storageDir}`,
    );
    expect(code).toContain(`file://${storageDir}`);
    writeFileSync(script, code);
    const { stdout } = await run(
      process.execPath,
      ["--conditions=@strata/source", "--import", "tsx", script],
      {
        cwd: packageDir,
        timeout: 60_000,
      },
    );
    const [shards, step] = stdout.trim().split("\n");
    expect(Number(shards)).toBeGreaterThanOrEqual(317);
    expect(Number(shards)).toBeLessThanOrEqual(350);
    expect(step).toBe("1200");
  } finally {
    rmSync(script, { force: true });
    rmSync(storageDir, { recursive: true, force: true });
  }
});
