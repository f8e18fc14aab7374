import { status as GrpcStatus } from "@grpc/grpc-js";
import type { HeartbeatResponse } from "@strata/proto";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "./helpers/coordinator-process.js";
import {
  connect,
  grpcError,
  status,
  type TestClient,
  WorkerStatus_State,
} from "./helpers/grpc-clients.js";

// One real coordinator process for the whole file; each test uses its own worker and dataset
// ids, and deregisters its workers, so tests do not see each other's members.
let coordinator: CoordinatorProcess;
let dataDir: string;
let client: TestClient;

beforeAll(async () => {
  dataDir = makeTempDir();
  coordinator = await startCoordinatorProcess(dataDir, ["--heartbeat-timeout-ms", "60000"]);
  client = connect(coordinator.grpc);
});

afterAll(async () => {
  client?.close();
  const code = await coordinator?.stop("SIGTERM");
  removeDir(dataDir);
  expect(code).toBe(0);
});

async function leaveAll(ids: readonly string[]): Promise<void> {
  for (const id of ids) await client.deregisterWorker(id).catch(() => undefined);
}

describe("registration", () => {
  test("ranks are dense, stable and idempotent per worker id; a returning worker gets its rank back", async () => {
    const ids = ["reg-a", "reg-b", "reg-c"];
    const configs = [];
    for (const id of ids)
      configs.push(await client.registerWorker({ workerId: id, metadata: { zone: "z1" } }));
    expect(configs.map((c) => c.rank)).toEqual([0, 1, 2]);
    expect(configs.map((c) => c.worldSize)).toEqual([1, 2, 3]);
    expect(configs[0]?.assignedId).toBe("reg-a");
    expect(configs[0]?.config).toMatchObject({ zone: "z1" });
    expect(configs[0]?.heartbeatIntervalMs).toBeGreaterThan(0n);
    expect(configs[2]?.membershipVersion).toBeGreaterThan(configs[0]?.membershipVersion ?? 0n);

    // Same id again: same rank, no membership change.
    const again = await client.registerWorker({ workerId: "reg-b" });
    expect(again.rank).toBe(1);
    expect(again.worldSize).toBe(3);
    expect(again.membershipVersion).toBe(configs[2]?.membershipVersion);

    // b leaves: a and c keep their ranks; b comes back and gets rank 1 again.
    const left = await client.deregisterWorker("reg-b");
    expect(left.rank).toBe(1);
    expect(left.worldSize).toBe(2);
    const hbA = await client.heartbeat({ workerId: "reg-a" });
    expect(hbA.rank).toBe(0);
    const hbC = await client.heartbeat({ workerId: "reg-c" });
    expect(hbC.rank).toBe(2);
    expect(hbC.worldSize).toBe(2);
    const back = await client.registerWorker({ workerId: "reg-b" });
    expect(back.rank).toBe(1);
    expect(back.worldSize).toBe(3);

    const gone = await grpcError(client.deregisterWorker("reg-never"));
    expect(gone.code).toBe(GrpcStatus.NOT_FOUND);
    await leaveAll(ids);
  });
});

describe("heartbeats", () => {
  test("records state and delivers pending commands; unknown workers get NOT_FOUND", async () => {
    await client.registerWorker({ workerId: "hb-a" });
    const first = await client.heartbeat({
      workerId: "hb-a",
      status: status(WorkerStatus_State.TRAINING, 10, 1, "train"),
    });
    expect(first.acknowledged).toBe(true);
    expect(first.serverTimestampMs).toBeGreaterThan(0n);

    // Another worker joins: hb-a learns it through a command and a higher membership version.
    await client.registerWorker({ workerId: "hb-b" });
    const second = await client.heartbeat({
      workerId: "hb-a",
      status: status(WorkerStatus_State.TRAINING, 11, 1),
    });
    expect(second.pendingCommands).toContain("membership_changed");
    expect(second.membershipVersion).toBeGreaterThan(first.membershipVersion);
    expect(second.worldSize).toBe(2);
    // Delivered once.
    const third = await client.heartbeat({ workerId: "hb-a" });
    expect(third.pendingCommands).not.toContain("membership_changed");

    // An old client's unknown state value and an absent status are both accepted.
    const odd = await client.heartbeat({
      workerId: "hb-a",
      status: { ...status(WorkerStatus_State.TRAINING), state: 99 as WorkerStatus_State },
    });
    expect(odd.acknowledged).toBe(true);

    const unknown = await grpcError(client.heartbeat({ workerId: "hb-nobody" }));
    expect(unknown.code).toBe(GrpcStatus.NOT_FOUND);
    await leaveAll(["hb-a", "hb-b"]);
  });

  test("StreamHeartbeats answers each message and ends with NOT_FOUND for an unknown worker", async () => {
    await client.registerWorker({ workerId: "st-a" });
    const stream = client.raw.streamHeartbeats();
    const responses: HeartbeatResponse[] = [];
    const ended = new Promise<{ code: number; details: string }>((resolve) => {
      stream.on("data", (r: HeartbeatResponse) => responses.push(r));
      stream.on("error", (e: { code: number; details: string }) => resolve(e));
      stream.on("end", () => resolve({ code: 0, details: "" }));
    });
    for (let step = 0; step < 3; step++) {
      stream.write({
        workerId: "st-a",
        timestampMs: BigInt(Date.now()),
        status: status(WorkerStatus_State.TRAINING, step, 0, "stream"),
        resources: undefined,
      });
    }
    // Wait for the three answers, then send a bad one.
    while (responses.length < 3) await new Promise((r) => setImmediate(r));
    expect(responses.every((r) => r.acknowledged)).toBe(true);
    stream.write({
      workerId: "st-nobody",
      timestampMs: 0n,
      status: undefined,
      resources: undefined,
    });
    const end = await ended;
    expect(end.code).toBe(GrpcStatus.NOT_FOUND);
    await leaveAll(["st-a"]);
  });
});

describe("barriers", () => {
  test("release when every live member arrived; repeated arrival counts once", async () => {
    const ids = ["bar-0", "bar-1", "bar-2", "bar-3"];
    const clients = ids.map(() => connect(coordinator.grpc));
    for (const id of ids) await client.registerWorker({ workerId: id });
    try {
      const waits = ids
        .slice(0, 3)
        .map((id, i) => clients[i]!.waitBarrier(id, "sync-1", { step: 7 }));
      // bar-0 arrives twice: still only one arrival.
      const dup = clients[0]!.waitBarrier("bar-0", "sync-1", { step: 7 });
      let settled = false;
      void Promise.all(waits).then(() => {
        settled = true;
      });
      // The fourth member has not arrived yet: a heartbeat round trip later, nobody is released.
      await client.heartbeat({ workerId: "bar-3" });
      expect(settled).toBe(false);
      const last = await clients[3]!.waitBarrier("bar-3", "sync-1", { step: 7 });
      const all = [...(await Promise.all(waits)), last, await dup];
      for (const r of all) {
        expect(r.released).toBe(true);
        expect(r.participants).toBe(4n);
        expect(r.participantIds).toHaveLength(4);
      }
      expect(new Set(all.slice(0, 4).map((r) => r.arrivalOrder))).toEqual(
        new Set([1n, 2n, 3n, 4n]),
      );
      expect(last.arrivalOrder).toBe(4n);
      // The duplicate arrival got bar-0's arrival order.
      expect(all[4]?.arrivalOrder).toBe(all[0]?.arrivalOrder);
      expect(last.participantIds[3]).toBe("bar-3");
    } finally {
      for (const c of clients) c.close();
      await leaveAll(ids);
    }
  });

  test("a per-barrier timeout fails the barrier with DEADLINE_EXCEEDED", async () => {
    await client.registerWorker({ workerId: "to-a" });
    await client.registerWorker({ workerId: "to-b" });
    const error = await grpcError(client.waitBarrier("to-a", "never", { timeoutMs: 200 }));
    expect(error.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    await leaveAll(["to-a", "to-b"]);
  });

  test("participant ids are only sent when asked for", async () => {
    await client.registerWorker({ workerId: "solo" });
    const plain = await client.waitBarrier("solo", "solo-1", { ids: false });
    expect(plain).toMatchObject({
      released: true,
      participants: 1n,
      arrivalOrder: 1n,
      participantIds: [],
    });
    const named = await client.waitBarrier("solo", "solo-2");
    expect(named.participantIds).toEqual(["solo"]);
    await leaveAll(["solo"]);
  });

  test("an unregistered caller is refused", async () => {
    const error = await grpcError(client.waitBarrier("ghost", "b"));
    expect(error.code).toBe(GrpcStatus.FAILED_PRECONDITION);
  });
});

describe("datasets and shards", () => {
  test("register is idempotent for the same spec and ALREADY_EXISTS for a different one", async () => {
    const spec = {
      datasetId: "ds-idem",
      totalSamples: 1000n,
      shardSize: 100n,
      shuffle: true,
      seed: 42n,
    };
    const first = await client.registerDataset(spec);
    expect(first).toMatchObject({ success: true, totalShards: 10n });
    const again = await client.registerDataset(spec);
    expect(again.totalShards).toBe(10n);
    const different = await grpcError(client.registerDataset({ ...spec, shardSize: 50n }));
    expect(different.code).toBe(GrpcStatus.ALREADY_EXISTS);
  });

  test("GetShardAssignments covers every shard once across workers; progress completes the epoch", async () => {
    const ids = ["sh-a", "sh-b", "sh-c"];
    for (const id of ids) await client.registerWorker({ workerId: id });
    await client.registerDataset({
      datasetId: "ds-cover",
      totalSamples: 1050n,
      shardSize: 100n,
      shuffle: true,
      seed: 7n,
    });
    const lists = await Promise.all(ids.map((id) => client.getShardAssignments(id, "ds-cover", 0)));
    const shardIds = lists.flatMap((l) => l.shards.map((s) => Number(s.shardId)));
    expect(shardIds.sort((a, b) => a - b)).toEqual([...Array(11).keys()]);
    for (const list of lists) {
      expect(list.totalShards).toBe(11n);
      expect(list.membershipVersion).toBe(lists[0]?.membershipVersion);
      for (const shard of list.shards) {
        expect(shard.endIndex - shard.startIndex).toBe(shard.shardId === 10n ? 50n : 100n);
        expect(shard.filePaths).toEqual(["/data"]);
      }
    }
    // GetDataShard (old clients) answers the first shard of the same list.
    const one = await client.getDataShard("sh-a", "ds-cover", 0);
    expect(one.shardId).toBe(lists[0]?.shards[0]?.shardId);

    // Consume everything: the last report completes the epoch.
    let last = { epochComplete: false, shardComplete: false };
    for (const [i, list] of lists.entries()) {
      for (const shard of list.shards) {
        const mid = (shard.startIndex + shard.endIndex) / 2n;
        const half = await client.reportShardProgress({
          workerId: ids[i],
          datasetId: "ds-cover",
          epoch: 0n,
          shardId: shard.shardId,
          consumed: [{ start: shard.startIndex, end: mid }],
          membershipVersion: list.membershipVersion,
        });
        expect(half.shardComplete).toBe(false);
        expect(half.consumedSamples).toBe(mid - shard.startIndex);
        last = await client.reportShardProgress({
          workerId: ids[i],
          datasetId: "ds-cover",
          epoch: 0n,
          shardId: shard.shardId,
          // Overlaps the first report: merged, not counted twice.
          consumed: [{ start: shard.startIndex, end: shard.endIndex }],
        });
        expect(last.shardComplete).toBe(true);
      }
    }
    expect(last.epochComplete).toBe(true);
    // Consumed shards are no longer assigned this epoch.
    const after = await client.getShardAssignments("sh-a", "ds-cover", 0);
    expect(after.shards).toHaveLength(0);

    const unknown = await grpcError(client.getShardAssignments("sh-a", "ds-missing", 0));
    expect(unknown.code).toBe(GrpcStatus.NOT_FOUND);
    await leaveAll(ids);
  });
});

describe("checkpoints", () => {
  test("a step is complete when every rank reported; recovery returns the latest complete step", async () => {
    const ids = ["ck-a", "ck-b"];
    for (const id of ids) await client.registerWorker({ workerId: id });
    const none = await client.getLatestCheckpoint("ck-a", "job-ck");
    expect(none.hasCheckpoint).toBe(false);

    const ack0 = await client.notifyCheckpoint({
      workerId: "ck-a",
      jobId: "job-ck",
      checkpointId: "c-100-a",
      step: 100n,
      epoch: 1n,
      storagePath: "/ckpt/100/a",
      sizeBytes: 10n,
    });
    expect(ack0).toMatchObject({
      success: true,
      complete: false,
      ranksReported: 1,
      ranksExpected: 2,
      globalStep: 100n,
    });
    // Only half of step 100: nothing to recover yet.
    expect((await client.getLatestCheckpoint("ck-b", "job-ck")).hasCheckpoint).toBe(false);
    const ack1 = await client.notifyCheckpoint({
      workerId: "ck-b",
      jobId: "job-ck",
      checkpointId: "c-100-b",
      step: 100n,
      epoch: 1n,
      storagePath: "/ckpt/100/b",
      sizeBytes: 20n,
    });
    expect(ack1).toMatchObject({ complete: true, ranksReported: 2, ranksExpected: 2 });
    // A later incomplete step does not hide the complete one.
    await client.notifyCheckpoint({
      workerId: "ck-a",
      jobId: "job-ck",
      checkpointId: "c-200-a",
      step: 200n,
      epoch: 2n,
    });

    const recovery = await client.getLatestCheckpoint("ck-b", "job-ck");
    expect(recovery.hasCheckpoint).toBe(true);
    expect(recovery.resumeStep).toBe(100n);
    expect(recovery.resumeEpoch).toBe(1n);
    expect(recovery.latestCheckpoint).toMatchObject({
      workerId: "ck-b",
      checkpointId: "c-100-b",
      storagePath: "/ckpt/100/b",
      jobId: "job-ck",
      rank: 1,
      worldSize: 2,
    });
    // Another job sees nothing.
    expect((await client.getLatestCheckpoint("ck-a", "job-other")).hasCheckpoint).toBe(false);
    await leaveAll(ids);
  });
});

describe("HTTP", () => {
  test("/api/health, /api/ready and /metrics", async () => {
    const health = await fetch(`http://${coordinator.http}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`http://${coordinator.http}/api/ready`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://${coordinator.http}/metrics`)).text();
    for (const name of [
      "strata_workers_registered",
      "strata_workers_live",
      "strata_workers_dead",
      "strata_heartbeats_total",
      "strata_heartbeat_duration_seconds_bucket",
      "strata_barrier_waiters",
      "strata_barrier_releases_total",
      "strata_barrier_release_latency_seconds_bucket",
      "strata_rpc_total",
      "strata_rpc_duration_seconds_bucket",
      "strata_datasets",
      "strata_checkpoints_recorded_total",
      "strata_checkpoint_steps_complete_total",
      "strata_membership_version",
      "strata_shard_moves_total",
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/strata_rpc_total\{method="RegisterWorker",code="OK"\} \d+/);
    // Barriers were released earlier in this file: each release was timed once.
    expect(metrics).toMatch(/strata_barrier_release_latency_seconds_count [1-9]/);
    expect(metrics).toMatch(/strata_heartbeats_total\{transport="stream"\} [1-9]/);
    // (Other paths than /api and /metrics are the dashboard's client-side routes.)
    const missing = await fetch(`http://${coordinator.http}/api/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "not_found" });
  });
});
