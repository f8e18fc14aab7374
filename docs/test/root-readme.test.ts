import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  blocksOf,
  ciScript,
  DOCS_DIR,
  expectEveryBlockCovered,
  interruptCleanly,
  listeningLine,
  onlyBlock,
  ROOT,
  runTypeScriptBlock,
  startBashBlock,
} from "./helpers.js";

// Every fenced block of the root README runs as written, from the repository root, on the ports
// it names (3000, 50051), twice where a reader would run it again. They are what a newcomer types
// first.
jest.setTimeout(600_000);

const blocks = blocksOf("README.md");
const QUICK_START = "npm install -g pnpm@12 && pnpm install && pnpm demo";
const TEST_FULL = "pnpm test:full";
const WORKER_CODE = 'import { createCheckpointManager } from "@strata/checkpoint";';
const START = "pnpm start\n";
const START_WITH_TOKEN = "STRATA_AUTH_TOKEN=$(openssl rand -hex 32) pnpm start";

test("every code block of the README is covered by a case below", () => {
  expectEveryBlockCovered(blocks, [QUICK_START, TEST_FULL, WORKER_CODE, START, START_WITH_TOKEN]);
  expect(blocks.every((b) => b.runnable)).toBe(true);
});

test("the quick start installs, builds and runs the demo: workers step and checkpoint; Ctrl-C stops it; run again, it resumes", async () => {
  const demoDir = join(ROOT, ".strata-demo");
  rmSync(demoDir, { recursive: true, force: true });
  try {
    const first = startBashBlock(onlyBlock(blocks, QUICK_START).code, { cwd: ROOT });
    try {
      const [, url] = await first.waitFor(/Open (http:\/\/\S+) for the dashboard/, 300_000);
      expect(url).toBe("http://127.0.0.1:3000");
      // The dashboard itself, not only the API, is what the URL opens.
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="root">');
      await first.waitFor(/checkpoint step \d+ complete on every rank/, 30_000);
      await first.waitFor(/step [1-9]\d* \| epoch \d+ \| loss 0\.\d+ \| workers 4\/4/, 30_000);
    } finally {
      const output = await interruptCleanly(first);
      expect(output).toMatch(/^stopped\. State, checkpoints and logs are in/m);
    }

    const second = startBashBlock(onlyBlock(blocks, QUICK_START).code, { cwd: ROOT });
    try {
      const [, step] = await second.waitFor(
        /demo-worker-\d resumed from checkpoint step (\d+)/,
        300_000,
      );
      expect(Number(step)).toBeGreaterThan(0);
    } finally {
      await interruptCleanly(second);
    }
  } finally {
    rmSync(demoDir, { recursive: true, force: true });
  }
});

test("the test command is what CI runs on a fresh clone", () => {
  expect(onlyBlock(blocks, TEST_FULL).code).toBe("pnpm test:full\n");
  expect(ciScript()).toMatch(/^pnpm test:full$/m);
  const scripts = (
    JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    }
  ).scripts;
  expect(scripts["test:full"]).toContain("scripts/install-test-deps.sh");
});

test("the worker-code example runs twice and prints what its comments say", async () => {
  try {
    for (let run = 0; run < 2; run++) {
      const result = await runTypeScriptBlock(onlyBlock(blocks, WORKER_CODE).code, {
        cwd: DOCS_DIR,
        timeoutMs: 60_000,
      });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
      const [shards, step] = result.stdout.trim().split("\n");
      expect(Number(shards)).toBeGreaterThanOrEqual(317);
      expect(Number(shards)).toBeLessThanOrEqual(350);
      expect(step).toBe("1200");
    }
  } finally {
    rmSync("/tmp/strata-checkpoints", { recursive: true, force: true });
  }
});

test("pnpm start runs the coordinator on the default addresses, serving the dashboard; Ctrl-C stops it", async () => {
  const server = startBashBlock(onlyBlock(blocks, START).code, { cwd: ROOT });
  try {
    const line = await listeningLine(server, 240_000);
    expect(line).toMatchObject({ grpc: "0.0.0.0:50051", http: "127.0.0.1:3000", auth: false });
    expect(existsSync(join(ROOT, ".strata", "coordinator.db"))).toBe(true);
    expect((await fetch("http://127.0.0.1:3000/api/health")).status).toBe(200);
    expect(await (await fetch("http://127.0.0.1:3000/")).text()).toContain('<div id="root">');
  } finally {
    expect(await interruptCleanly(server)).toContain('"msg":"stopped"');
  }
});

test("with a token the coordinator opens HTTP to other machines and asks every API call for it, twice", async () => {
  try {
    for (let run = 0; run < 2; run++) {
      const server = startBashBlock(onlyBlock(blocks, START_WITH_TOKEN).code, { cwd: ROOT });
      try {
        const line = await listeningLine(server, 240_000);
        expect(line).toMatchObject({ http: "0.0.0.0:3000", auth: true });
        expect((await fetch("http://127.0.0.1:3000/api/health")).status).toBe(200);
        expect((await fetch("http://127.0.0.1:3000/api/workers")).status).toBe(401);
      } finally {
        expect(await interruptCleanly(server)).toContain('"msg":"stopped"');
      }
    }
  } finally {
    rmSync("/tmp/strata-secured", { recursive: true, force: true });
  }
});
