import { rmSync } from "node:fs";
import { join } from "node:path";
import { WORKER_OPTIONS } from "../src/worker-cli/worker-cli.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinator,
} from "./helpers/coordinator-process.js";

// Every fenced example in the README runs as written (twice where a user would run it twice),
// against a real coordinator; the shared extractor finds the blocks.
const { fencedBlocks, runBashBlock, runTypeScriptBlock } =
  require("../../../scripts/markdown-examples.cjs") as {
    fencedBlocks: (
      file: string,
      options: { lang: string[] },
    ) => { lang: string; code: string; line: number; runnable: boolean; reason?: string }[];
    runTypeScriptBlock: (code: string, options: RunOptions) => Promise<RunResult>;
    runBashBlock: (code: string, options: RunOptions) => Promise<RunResult>;
  };
interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}
interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

jest.setTimeout(120_000);

const packageDir = join(__dirname, "..");
const README = join(packageDir, "README.md");
// The paths the examples use, cleaned so each test run starts where a new user starts.
const EXAMPLE_DIRS = ["/tmp/strata-sdk-example", "/tmp/strata-worker-example"];

let coordinator: CoordinatorProcess;
let dir: string;

beforeAll(async () => {
  for (const d of EXAMPLE_DIRS) rmSync(d, { recursive: true, force: true });
  dir = makeTempDir("strata-readme-");
  coordinator = await startCoordinator(dir, { args: ["--heartbeat-timeout-ms", "3000"] });
});

afterAll(async () => {
  await coordinator.stop();
  removeDir(dir);
  for (const d of EXAMPLE_DIRS) rmSync(d, { recursive: true, force: true });
});

function expectOk(result: RunResult, what: string): void {
  if (result.code !== 0)
    throw new Error(`${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
}

test("the TypeScript example runs, and run again resumes and reads the next epoch", async () => {
  const blocks = fencedBlocks(README, { lang: ["ts"] });
  expect(blocks).toHaveLength(1);
  const code = (blocks[0] as { code: string }).code;
  const env = { STRATA_COORDINATOR: coordinator.grpc };
  const first = await runTypeScriptBlock(code, { cwd: packageDir, env, timeoutMs: 60_000 });
  expectOk(first, "first run");
  expect(first.stdout).toContain("rank 0 of 1");
  expect(first.stdout).toMatch(/read 1000 samples of epoch 0; checkpoint step \d+/);
  const second = await runTypeScriptBlock(code, { cwd: packageDir, env, timeoutMs: 60_000 });
  expectOk(second, "second run");
  expect(second.stdout).toMatch(/resumed from step [1-9]\d*/);
  expect(second.stdout).toMatch(/read 1000 samples of epoch 1; checkpoint step \d+/);
});

test("the shell examples run as written, twice", async () => {
  const blocks = fencedBlocks(README, { lang: ["bash"] });
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  for (const block of blocks) {
    expect(block.runnable).toBe(true);
    for (let run = 0; run < 2; run++) {
      const result = await runBashBlock(block.code, {
        cwd: packageDir,
        env: { STRATA_COORDINATOR: coordinator.grpc },
        timeoutMs: 60_000,
      });
      expectOk(result, `README line ${block.line} (run ${run + 1})`);
      if (block.code.includes("--help")) expect(result.stdout).toContain("Usage: strata-worker");
      if (block.code.includes("--epochs 1")) {
        const events = result.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { event: string; loss?: number });
        expect(events.at(-1)?.event).toBe("done");
        if (run === 0) expect(events.at(-1)?.loss).toBeLessThan(0.6);
        else expect(events.some((e) => e.event === "resumed")).toBe(true);
      }
    }
  }
});

test("the flag table lists every strata-worker option and its environment variable", () => {
  const text = require("node:fs").readFileSync(README, "utf8") as string;
  for (const option of WORKER_OPTIONS) {
    expect({ flag: option.flag, documented: text.includes(`--${option.flag}`) }).toEqual({
      flag: option.flag,
      documented: true,
    });
    const env = option.env.replace(/^STRATA_WORKER_/, "…_");
    expect({
      env: option.env,
      documented: text.includes(option.env) || text.includes(env),
    }).toEqual({
      env: option.env,
      documented: true,
    });
  }
});
