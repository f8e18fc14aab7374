import path from "node:path";
import {
  createLocalStorage,
  createMemoryStorage,
  type MemoryStorage,
  type StorageBackend,
} from "@strata/storage";
import { createS3Storage } from "@strata/storage/s3";
import { S3RVER_CREDENTIALS, startS3rver } from "@strata/storage/testing";
import { createCheckpointManager, EXIT, runCli } from "../src/index.js";
import { keysOf, patternBytes, tempDir } from "./helpers.js";
import { KillSwitchStorage } from "./kill-switch-storage.js";

/** Runs the CLI against `storage` (whatever --storage says), capturing output. */
async function cli(storage: StorageBackend, args: string[], tty = false) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t), isTTY: tty },
    // The CLI closes the storage it opened; closing a MemoryStorage keeps its objects.
    openStorage: async () => storage,
  });
  return { code, stdout, stderr };
}

const common = ["--storage", "memory://test", "--job", "job", "--prefix", "ck"];

/** Runs the CLI with its default storage opener. */
async function runDefault(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}

async function seed(): Promise<MemoryStorage> {
  const storage = createMemoryStorage();
  const m = createCheckpointManager({ storage, prefix: "ck", jobId: "job" });
  for (const step of [10, 20, 30]) {
    await m.save({
      step,
      epoch: step / 10,
      buffers: { w: patternBytes(3_000, step) },
      metadata: { lr: 0.5 },
      dataPosition: { shard: 2 },
    });
  }
  await m.close();
  return storage;
}

describe("strata-checkpoint CLI", () => {
  test("list prints committed steps as a table and as JSON", async () => {
    const storage = await seed();
    const text = await cli(storage, ["list", ...common]);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(EXIT.ok);
    expect(text.stdout.split("\n")[0]).toMatch(/^STEP\s+EPOCH\s+RANKS\s+SIZE\s+CREATED\s+STATE$/);
    expect(text.stdout).toMatch(/\n20\s+2\s+1\/1\s+2\.9 KiB/);
    const json = await cli(storage, ["list", ...common, "--json"]);
    expect(JSON.parse(json.stdout).map((c: { step: number }) => c.step)).toEqual([10, 20, 30]);
  });

  test("inspect shows manifests; a missing step exits with notFound", async () => {
    const storage = await seed();
    const r = await cli(storage, ["inspect", "20", ...common]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain("step:          20");
    expect(r.stdout).toContain('data position: {"shard":2}');
    expect(r.stdout).toMatch(
      /\nw\s+uint8\s+3000\s+3000\s+none\s+xxh3-64:[0-9a-f]{16}\s+\d{13}-[0-9a-f]{8}\/pack-00000\.bin@0\n/,
    );
    const missing = await cli(storage, ["inspect", "25", ...common]);
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.stderr).toContain("step 25");
  });

  test("verify passes on intact checkpoints and exits 1 naming the corrupt object", async () => {
    const storage = await seed();
    expect((await cli(storage, ["verify", ...common])).code).toBe(EXIT.ok);
    const key = (await keysOf(storage, "ck/job/step-000000000020/")).find((k) =>
      k.endsWith(".bin"),
    ) as string;
    const bytes = await storage.get(key);
    bytes[0] = (bytes[0] as number) ^ 1;
    await storage.put(key, bytes);
    const r = await cli(storage, ["verify", ...common]);
    expect(r.code).toBe(EXIT.verifyFailed);
    expect(r.stdout).toContain("step 10: OK");
    expect(r.stdout).toContain("step 20: FAILED");
    expect(r.stdout).toContain(key);
    expect((await cli(storage, ["verify", "30", ...common])).code).toBe(EXIT.ok);
  });

  test("verify draws a progress bar on a TTY and not otherwise", async () => {
    const storage = await seed();
    const tty = await cli(storage, ["verify", "10", ...common], true);
    expect(tty.code).toBe(EXIT.ok);
    expect(tty.stderr).toContain("verify step 10");
    expect(tty.stderr).toContain("100%");
    const plain = await cli(storage, ["verify", "10", ...common]);
    expect(plain.stderr).toBe("");
    const off = await cli(storage, ["verify", "10", ...common, "--no-progress"], true);
    expect(off.stderr).toBe("");
  });

  test("prune honours --dry-run, --keep-last and --keep-every", async () => {
    const storage = await seed();
    const dry = await cli(storage, ["prune", ...common, "--keep-last", "1", "--dry-run"]);
    expect(dry.code).toBe(EXIT.ok);
    expect(dry.stdout).toContain("would delete steps: 10, 20");
    expect((await cli(storage, ["list", ...common, "--json"])).stdout).toContain('"step": 10');
    const real = await cli(storage, ["prune", ...common, "--keep-last", "1", "--keep-every", "20"]);
    expect(real.stdout).toContain("deleted steps: 10");
    const list = JSON.parse((await cli(storage, ["list", ...common, "--json"])).stdout) as {
      step: number;
    }[];
    expect(list.map((c) => c.step)).toEqual([20, 30]);
  });

  test("usage errors exit 2 with a clear message", async () => {
    const storage = await seed();
    const noStorage = await cli(storage, ["list", "--job", "job"]);
    expect(noStorage.code).toBe(EXIT.usage);
    expect(noStorage.stderr).toContain("--storage");
    const badStep = await cli(storage, ["inspect", "ten", ...common]);
    expect(badStep.code).toBe(EXIT.usage);
    expect(badStep.stderr).toContain("step must be a non-negative integer");
    const badKeep = await cli(storage, ["prune", ...common, "--keep-last", "0"]);
    expect(badKeep.code).toBe(EXIT.usage);
    const badJob = await cli(storage, ["list", "--storage", "x", "--job", "../etc"]);
    expect(badJob.code).toBe(EXIT.usage);
    expect(badJob.stderr).toContain("jobId");
    expect((await cli(storage, ["frobnicate"])).code).toBe(EXIT.usage);
    expect((await cli(storage, ["--help"])).code).toBe(EXIT.ok);
  });

  test("list --all shows partial and interrupted-deletion steps as what they are", async () => {
    const storage = await seed();
    // Step 10's deletion killed after its DELETING marker and step manifest went.
    const killSwitch = new KillSwitchStorage(storage, 2);
    const dying = createCheckpointManager({ storage: killSwitch, prefix: "ck", jobId: "job" });
    await expect(dying.prune({ keepLast: 2 })).rejects.toThrow(/killed/);
    // Step 40: a rank part committed, no step manifest (a kill between the two manifests).
    const partial = createCheckpointManager({
      storage,
      prefix: "ck",
      jobId: "job",
      stepCommit: "manual",
    });
    await (await partial.save({ step: 40, epoch: 4, buffers: { w: patternBytes(10) } })).committed;
    // Step 50: data of a save killed before its rank manifest.
    await storage.put(
      "ck/job/step-000000000050/rank-00000/0000000000001-aa/pack-00000.bin",
      patternBytes(7),
    );

    const r = await cli(storage, ["list", ...common, "--all"]);
    expect(r.code).toBe(EXIT.ok);
    const row = (step: number) => r.stdout.split("\n").find((l) => l.startsWith(`${step} `)) ?? "";
    expect(row(10)).toMatch(
      /^10\s+1\s+1\/1\s+.*deleting: retention was deleting it \(interrupted\); the step manifest is gone, 1 data object\(s\) left/,
    );
    expect(row(40)).toMatch(
      /^40\s+4\s+1\/1\s+.*partial: 1 of 1 rank\(s\) committed; no step manifest/,
    );
    expect(row(50)).toMatch(/^50\s+-\s+0\/\?\s+7 B\s+.*partial: no rank committed/);
    const json = JSON.parse(
      (await cli(storage, ["list", ...common, "--all", "--json"])).stdout,
    ) as {
      step: number;
      state: string;
      epoch: number;
    }[];
    expect(json.map((c) => [c.step, c.state, c.epoch])).toEqual([
      [10, "deleting", 1],
      [20, "complete", 2],
      [30, "complete", 3],
      [40, "partial", 4],
      [50, "partial", 0],
    ]);
    // The next retention run finishes the deletion.
    const next = await createCheckpointManager({ storage, prefix: "ck", jobId: "job" }).prune({
      keepLast: 2,
    });
    expect(next.deletedSteps).toEqual([10]);
    expect(await keysOf(storage, "ck/job/step-000000000010/")).toEqual([]);
  });

  test("a storage root that does not exist is an error, not an empty list", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      for (const storage of [path.join(dir, "nonexistent"), `file://${dir}/nonexistent`]) {
        const r = await runDefault(["list", "--storage", storage, "--job", "job"]);
        expect(r.code).toBe(EXIT.usage);
        expect(r.stderr).toContain(`${dir}/nonexistent is not an existing folder`);
        expect(r.stdout).toBe("");
      }
    } finally {
      await cleanup();
    }
  });

  test("a job with no checkpoints under --prefix exits notFound and says where it is", async () => {
    const storage = await seed();
    const forgot = await cli(storage, ["list", "--storage", "memory://test", "--job", "job"]);
    expect(forgot.code).toBe(EXIT.notFound);
    expect(forgot.stderr).toContain("job job has no checkpoints at the storage root");
    expect(forgot.stderr).toContain("found it with --prefix ck");
    const other = await cli(storage, [
      "list",
      ...common.slice(0, 2),
      "--job",
      "nope",
      "--prefix",
      "ck",
    ]);
    expect(other.code).toBe(EXIT.notFound);
    expect(other.stderr).toContain('job nope has no checkpoints under prefix "ck"');
    const prune = await cli(storage, [
      "prune",
      "--storage",
      "memory://test",
      "--job",
      "job",
      "--keep-last",
      "1",
    ]);
    expect(prune.code).toBe(EXIT.notFound);
    expect((await cli(storage, ["list", ...common])).code).toBe(EXIT.ok);
  });

  test("verify with no checkpoints exits notFound", async () => {
    const r = await cli(createMemoryStorage(), ["verify", ...common]);
    expect(r.code).toBe(EXIT.notFound);
  });

  test("the default opener reaches local folders and S3 by URI", async () => {
    const { dir, cleanup } = await tempDir();
    const server = await startS3rver({
      bucket: "strata-ckpt",
      resolveFrom: path.resolve(__dirname, ".."),
    });
    const env = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: "us-east-1",
    });
    const s3 = createS3Storage({
      bucket: server.bucket,
      prefix: "team",
      endpoint: server.endpoint,
      credentials: S3RVER_CREDENTIALS,
      onWarning: () => {},
    });
    try {
      for (const storage of [createLocalStorage({ root: dir }), s3]) {
        const m = createCheckpointManager({ storage, jobId: "job" });
        await (await m.save({ step: 4, buffers: { w: patternBytes(1000) } })).committed;
        await m.close();
      }
      const run = async (args: string[]) => {
        let stdout = "";
        let stderr = "";
        const code = await runCli(args, {
          stdout: { write: (t: string) => (stdout += t) },
          stderr: { write: (t: string) => (stderr += t) },
        });
        return { code, stdout, stderr };
      };
      for (const uri of [
        dir,
        `file://${dir}`,
        `s3://${server.bucket}/team?endpoint=${server.endpoint}`,
      ]) {
        const r = await run(["verify", "--storage", uri, "--job", "job"]);
        expect(r.stderr).toBe("");
        expect(r.stdout).toContain("step 4: OK");
        expect(r.code).toBe(EXIT.ok);
      }
      const bad = await run(["list", "--storage", "ftp://x", "--job", "job"]);
      expect(bad.code).toBe(EXIT.usage);
      expect(bad.stderr).toContain("ftp");
    } finally {
      process.env = env;
      await s3.close();
      await server.dispose();
      await cleanup();
    }
  });
});
