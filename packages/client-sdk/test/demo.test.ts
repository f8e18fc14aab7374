import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { makeTempDir, removeDir } from "./helpers/coordinator-process.js";

// `pnpm demo` is `turbo run build && node scripts/demo.mjs`: run the script itself (turbo built
// everything before this package's tests), twice on one data directory, with chaos, and check
// that it shows every part working and leaves no process behind.
jest.setTimeout(120_000);

const DEMO = join(__dirname, "..", "..", "..", "scripts", "demo.mjs");

interface DemoRun {
  child: ChildProcess;
  lines: string[];
  waitFor(what: string, pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | string>;
}

function runDemo(args: string[]): DemoRun {
  const child = spawn(process.execPath, [DEMO, "--http-port", "0", "--grpc-port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "" },
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      const m = line.match(w.pattern);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return {
    child,
    lines,
    exited,
    waitFor(what, pattern, timeoutMs = 45_000) {
      for (const line of lines) {
        const m = line.match(pattern);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${what} in ${timeoutMs} ms:\n${lines.join("\n")}\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
}

/** Processes whose command line mentions `needle` (the demo's data directory). */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle))
        found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe("pnpm demo", () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir("strata-demo-test-");
  });
  afterAll(() => {
    for (const pid of processesMentioning(dir)) process.kill(pid, "SIGKILL");
    removeDir(dir);
  });

  test("runs a coordinator and 4 workers that step and checkpoint; chaos kills and restarts one; a second run resumes; Ctrl-C leaves nothing behind", async () => {
    const dataDir = join(dir, "state");
    const first = runDemo([
      "--data-dir",
      dataDir,
      "--chaos",
      "--chaos-interval-ms",
      "6000",
      "--step-delay-ms",
      "50",
      "--checkpoint-every",
      "30",
      "--duration-ms",
      "24000",
    ]);
    const [, url] = await first.waitFor("the URL", /Open (http:\/\/\S+) /);
    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    for (let i = 0; i < 4; i++)
      await first.waitFor(`worker ${i}`, new RegExp(`demo-worker-${i} joined`));
    await first.waitFor(
      "a complete checkpoint",
      /checkpoint step \d+ complete on every rank/,
      30_000,
    );
    await first.waitFor(
      "a live summary",
      /step [1-9]\d* \| epoch \d+ \| loss 0\.\d+ \| workers [1-4]\/4/,
    );
    const [, victim] = await first.waitFor("a chaos kill", /chaos: kill -9 (demo-worker-\d)/);
    await first.waitFor("the survivors noticing", /survivors learned of the death after [\d.]+ s/);
    await first.waitFor("the restart", new RegExp(`${victim} resumed from checkpoint step \\d+`));
    expect(await first.exited).toBe(0);
    expect(processesMentioning(dataDir)).toEqual([]);

    // Again on the same directory: the job resumes from its latest checkpoint; Ctrl-C stops it.
    const second = runDemo([
      "--data-dir",
      dataDir,
      "--step-delay-ms",
      "50",
      "--checkpoint-every",
      "30",
    ]);
    const [, step] = await second.waitFor(
      "a resume",
      /demo-worker-\d resumed from checkpoint step (\d+)/,
    );
    expect(Number(step)).toBeGreaterThan(0);
    await second.waitFor("a new checkpoint", /checkpoint step \d+ complete on every rank/, 30_000);
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
    expect(second.lines.some((l) => l.startsWith("stopped."))).toBe(true);
    expect(processesMentioning(dataDir)).toEqual([]);
  });
});
