import { Code, type RuntimeError } from "@strata/runtime-core";
import { createLocalStorage } from "@strata/storage";
import { createCheckpointManager, toTypedArray } from "../src/index.js";
import { tempDir } from "./helpers.js";

// The README's first example, with a temp folder instead of /data/ckpt and no console output.
async function readmeExample(root: string): Promise<number | undefined> {
  const storage = createLocalStorage({ root });
  await using manager = createCheckpointManager({
    storage,
    prefix: "runs",
    jobId: "llama-7b-run-3",
    compression: "lz4",
    retention: { keepLast: 3, keepEvery: 1000 },
  });
  const resumed = await manager.load().catch((error: RuntimeError) => {
    if (error.code === Code.NotFound) return undefined;
    throw error;
  });
  const weights = resumed
    ? (toTypedArray(resumed.buffers.weights!, "float32") as Float32Array)
    : new Float32Array(1 << 20);
  for (let step = resumed ? resumed.step + 1 : 0; step < 1_000; step++) {
    weights[0] = step;
    if (step % 100 === 0) {
      const handle = await manager.save({
        step,
        buffers: { weights, rng: Buffer.from("rng-state") },
        dataPosition: { shard: 17, offset: 4096 },
        metadata: { lr: 3e-4 },
      });
      handle.committed.catch(() => {});
    }
  }
  await manager.flush();
  return (await manager.latest())?.step;
}

test("the README example saves, prunes and resumes", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    expect(await readmeExample(dir)).toBe(900);
    const storage = createLocalStorage({ root: dir });
    const reader = createCheckpointManager({ storage, prefix: "runs", jobId: "llama-7b-run-3" });
    expect((await reader.list()).map((c) => c.step)).toEqual([0, 700, 800, 900]);
    const loaded = await reader.load();
    const weights = toTypedArray(loaded.buffers.weights as Uint8Array, "float32") as Float32Array;
    expect(weights[0]).toBe(900);
    expect(weights[1]).toBe(0);
    expect(loaded.dataPosition).toEqual({ shard: 17, offset: 4096 });
    await reader.close();
  } finally {
    await cleanup();
  }
});
