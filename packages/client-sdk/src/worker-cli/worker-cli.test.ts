import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, RuntimeError } from "@strata/runtime-core";
import { LogisticRegression } from "./logistic-regression.js";
import { ensureSyntheticDataset } from "./synthetic-dataset.js";
import { parseWorkerConfig } from "./worker-cli.js";

const run = promisify(execFile);

function rejection(argv: string[], env: Record<string, string> = {}): RuntimeError {
  try {
    parseWorkerConfig(argv, env);
  } catch (error) {
    return error as RuntimeError;
  }
  throw new Error("expected an error");
}

describe("strata-worker configuration", () => {
  test("flags win over the environment, which wins over defaults", () => {
    const { config } = parseWorkerConfig(["--epochs", "5", "--coordinator", "a:1,b:2"], {
      STRATA_WORKER_EPOCHS: "9",
      STRATA_WORKER_BATCH_SIZE: "64",
      STRATA_WORKER_ID: "w-7",
    });
    expect(config.epochs).toBe(5);
    expect(config.batchSize).toBe(64);
    expect(config.workerId).toBe("w-7");
    expect(config.coordinator).toEqual(["a:1", "b:2"]);
    expect(config.resume).toBe("rejoin");
    expect(config.storage).toBe(join(config.dataDir, "checkpoints"));
  });

  test.each([
    [["--epochs", "-1"], "epochs"],
    [["--batch-size", "0"], "batch-size"],
    [["--coordinator", "http://x"], "coordinator"],
    [["--resume", "maybe"], "resume"],
    [["--job-id", "-bad"], "job-id"],
    [["--learning-rate", "abc"], "learning-rate"],
    [["--worker-id", "a b"], "worker-id"],
  ])("%j is refused naming the flag", (argv, field) => {
    const error = rejection(argv);
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.details.field).toBe(field);
    expect(error.rawMessage).toContain(`--${field}`);
  });

  test("an environment value is checked like a flag", () => {
    expect(rejection([], { STRATA_WORKER_EPOCHS: "many" }).details.field).toBe("epochs");
  });

  test("the binary exits 2 on a bad flag, naming it, and 0 for --help", async () => {
    const bin = join(__dirname, "..", "..", "dist", "worker-cli", "bin.js");
    const bad = await run(process.execPath, [bin, "--samples", "x"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad).toMatchObject({ code: 2 });
    expect((bad as { stderr: string }).stderr).toContain("--samples");
    const help = await run(process.execPath, [bin, "--help"]);
    expect(help.stdout).toContain("--wait-for-task");
  });
});

describe("the training worker's model and data", () => {
  test("shard files are written once and logistic regression's loss falls; a restored model continues the same curve", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-model-"));
    try {
      const spec = { datasetId: "t", totalSamples: 2_000, shardSize: 250, features: 8, seed: 3 };
      const data = await ensureSyntheticDataset(dir, spec);
      expect(readdirSync(dir).filter((f) => f.endsWith(".bin"))).toHaveLength(8);
      await ensureSyntheticDataset(dir, spec); // present: reused
      await expect(ensureSyntheticDataset(dir, { ...spec, features: 9 })).rejects.toMatchObject({
        code: Code.FailedPrecondition,
      });
      const model = new LogisticRegression(8, { learningRate: 0.05 });
      const batch = async (from: number) => {
        const rows: Float32Array[] = [];
        const labels: number[] = [];
        for (let i = from; i < from + 32; i++) {
          const s = await data.sample(i % 2_000);
          rows.push(s.features);
          labels.push(s.label);
        }
        return { rows, labels };
      };
      const first = await batch(0);
      const initial = model.trainStep(first.rows, first.labels);
      expect(initial).toBeCloseTo(Math.LN2, 5);
      for (let step = 1; step < 200; step++) {
        const b = await batch(step * 32);
        model.trainStep(b.rows, b.labels);
      }
      expect(model.lossEma).toBeLessThan(0.5);

      // Save and restore through bytes, as a checkpoint does: the next step is identical.
      const state = model.state();
      const bytes = Object.fromEntries(
        Object.entries(state.buffers).map(([k, v]) => [k, new Uint8Array(v.buffer.slice(0))]),
      );
      const restored = new LogisticRegression(8, { learningRate: 0.05 });
      restored.restore(
        bytes,
        JSON.parse(JSON.stringify(state.metadata)) as Record<string, unknown>,
      );
      expect(restored.lossEma).toBe(model.lossEma);
      const next = await batch(200 * 32);
      expect(restored.trainStep(next.rows, next.labels)).toBe(
        model.trainStep(next.rows, next.labels),
      );
      expect(() => new LogisticRegression(4).restore(bytes, {})).toThrow(RuntimeError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
