// Run by sqlite-durability.test.ts in a child process: writes through the engine over SQLite,
// prints "ready", then waits to be killed with SIGKILL.
import { ManualClock } from "@strata/runtime-core";
import { createCoordinatorEngine } from "../../src/engine/index.js";
import { createSqliteStore } from "../../src/store/index.js";

const path = process.argv[2];
if (path === undefined) throw new Error("usage: crash-child <db path>");
const store = createSqliteStore({ path });
const engine = createCoordinatorEngine({ store, clock: new ManualClock(1_700_000_000_000) });
await engine.start();
for (const id of ["a", "b", "c"]) {
  await engine.registerWorker({
    workerId: id,
    hostname: `${id}.local`,
    port: 1,
    gpuCount: 4,
    memoryBytes: 64,
    metadata: { k: id },
  });
}
await engine.deregisterWorker("b");
await engine.registerDataset({
  datasetId: "ds",
  path: "/data",
  format: "raw",
  totalSamples: 100,
  shardSize: 10,
  shuffle: false,
  seed: 12345678901234567890n,
  metadata: { owner: "x" },
});
const shard = engine.getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 })
  .assignments[0];
if (shard === undefined) throw new Error("no shard");
await engine.reportShardProgress({
  workerId: "a",
  datasetId: "ds",
  epoch: 0,
  shardId: shard.shardId,
  upTo: shard.startIndex + 5,
});
for (const id of ["a", "c"]) {
  await engine.notifyCheckpoint({
    workerId: id,
    jobId: "job",
    checkpointId: `ck-${id}`,
    step: 50,
    epoch: 0,
    storagePath: `s3://b/ck/${id}`,
    sizeBytes: 10,
    kind: "full",
    metadata: {},
  });
}
process.stdout.write(`ready ${shard.shardId}\n`);
setInterval(() => undefined, 1_000);
