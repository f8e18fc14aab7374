import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { HeartbeatResponse, ShardAssignment } from "@strata/proto";
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

/** Heartbeats `workerId` every `everyMs` until stopped; resolves `until(pred)` on the first matching answer. */
function heartbeatLoop(client: TestClient, workerId: string, everyMs = 100) {
  let stopped = false;
  const waiters: {
    pred: (r: HeartbeatResponse) => boolean;
    resolve: (r: HeartbeatResponse) => void;
  }[] = [];
  const tick = async () => {
    while (!stopped) {
      try {
        const r = await client.heartbeat({ workerId, status: status(WorkerStatus_State.TRAINING) });
        for (const w of [...waiters]) {
          if (w.pred(r)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(r);
          }
        }
      } catch {
        // The coordinator may be restarting; keep trying.
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  };
  void tick();
  return {
    until: (pred: (r: HeartbeatResponse) => boolean) =>
      new Promise<HeartbeatResponse>((resolve) => waiters.push({ pred, resolve })),
    stop: () => {
      stopped = true;
    },
  };
}

describe("a worker stops heartbeating mid-barrier", () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  test.each([["abort"], ["release_survivors"]])(
    "policy %s: waiters get an answer at once",
    async (policy) => {
      const coordinator = await startCoordinatorProcess(dir, [
        "--heartbeat-timeout-ms",
        "1000",
        "--barrier-policy",
        policy,
      ]);
      const client = connect(coordinator.grpc);
      const loops: ReturnType<typeof heartbeatLoop>[] = [];
      try {
        for (const id of ["fa", "fb", "fc"]) await client.registerWorker({ workerId: id });
        loops.push(heartbeatLoop(client, "fa"), heartbeatLoop(client, "fb"));
        // fc never heartbeats again and never arrives.
        const waits = ["fa", "fb"].map((id) =>
          client.waitBarrier(id, "epoch-1", { deadlineMs: 20_000 }).then(
            (r) => ({ ok: true as const, r }),
            (e: { code: number; details: string }) => ({ ok: false as const, e }),
          ),
        );
        const outcomes = await Promise.all(waits);
        if (policy === "abort") {
          for (const o of outcomes) {
            expect(o.ok).toBe(false);
            if (!o.ok) {
              expect(o.e.code).toBe(GrpcStatus.ABORTED);
              expect(o.e.details).toContain("fc");
            }
          }
          // Re-entering the barrier starts a new generation with the survivors.
          const again = await Promise.all(
            ["fa", "fb"].map((id) => client.waitBarrier(id, "epoch-1")),
          );
          for (const r of again) expect(r.participants).toBe(2n);
        } else {
          for (const o of outcomes) {
            expect(o.ok).toBe(true);
            if (o.ok) expect(o.r.participantIds).toEqual(expect.arrayContaining(["fa", "fb"]));
            if (o.ok) expect(o.r.participants).toBe(2n);
          }
        }
        const metrics = await (await fetch(`http://${coordinator.http}/metrics`)).text();
        expect(metrics).toMatch(/strata_workers_declared_dead_total 1/);
      } finally {
        for (const l of loops.values()) l.stop();
        client.close();
        expect(await coordinator.stop()).toBe(0);
      }
    },
  );
});

/** Starts a real worker process that heartbeats until killed; resolves once it heartbeated. */
async function startWorkerProcess(target: string, workerId: string) {
  const child = spawn(
    process.execPath,
    [join(__dirname, "helpers", "heartbeat-worker.mjs"), target, workerId, "100"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`worker ${workerId} did not heartbeat within 10 s: ${stderr}`));
    }, 10_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${workerId} exited early (${code}): ${stderr}`));
    });
    child.stdout?.once("data", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return child;
}

describe("a worker is killed mid-epoch", () => {
  test("its shards move to the survivors and no sample is covered twice", async () => {
    const dir = makeTempDir();
    const coordinator = await startCoordinatorProcess(dir, ["--heartbeat-timeout-ms", "1000"]);
    const client = connect(coordinator.grpc);
    const ids = ["ka", "kb", "kc"];
    let kc: ChildProcess | undefined;
    const loops = new Map<string, ReturnType<typeof heartbeatLoop>>();
    const consumed: { worker: string; start: bigint; end: bigint }[] = [];
    const TOTAL = 1_000n;
    try {
      for (const id of ["ka", "kb"]) await client.registerWorker({ workerId: id });
      for (const id of ["ka", "kb"]) loops.set(id, heartbeatLoop(client, id));
      // kc is a real worker process (it registers itself), killed with SIGKILL below.
      kc = await startWorkerProcess(coordinator.grpc, "kc");
      await loops.get("ka")?.until((r) => r.worldSize === 3);
      await client.registerDataset({
        datasetId: "kill-ds",
        totalSamples: TOTAL,
        shardSize: 50n,
        shuffle: true,
        seed: 3n,
      });

      const consume = async (
        worker: string,
        shard: ShardAssignment,
        fraction: number,
        version: bigint,
      ) => {
        const ranges =
          shard.remainingRanges.length > 0
            ? shard.remainingRanges
            : [{ start: shard.startIndex, end: shard.endIndex }];
        for (const range of ranges) {
          const end = fraction >= 1 ? range.end : range.start + (range.end - range.start) / 2n;
          if (end <= range.start) continue;
          await client.reportShardProgress({
            workerId: worker,
            datasetId: "kill-ds",
            epoch: 0n,
            shardId: shard.shardId,
            consumed: [{ start: range.start, end }],
            membershipVersion: version,
          });
          consumed.push({ worker, start: range.start, end });
        }
      };

      // Everyone reads half of each of its shards.
      for (const id of ids) {
        const list = await client.getShardAssignments(id, "kill-ds", 0);
        expect(list.shards.length).toBeGreaterThan(0);
        for (const shard of list.shards) await consume(id, shard, 0.5, list.membershipVersion);
      }

      // kc dies: its heartbeats stop; the survivors hear about it in a heartbeat.
      kc.kill("SIGKILL");
      await new Promise((r) => kc?.once("exit", r));
      const heard = await loops.get("ka")!.until((r) => r.worldSize === 2);
      expect(heard.membershipVersion).toBeGreaterThan(0n);

      // The survivors finish the epoch from their new assignments.
      for (const id of ["ka", "kb"]) {
        const list = await client.getShardAssignments(id, "kill-ds", 0);
        for (const shard of list.shards) await consume(id, shard, 1, list.membershipVersion);
      }
      const done = await client.getShardAssignments("ka", "kill-ds", 0);
      expect(done.shards).toHaveLength(0);

      // The consumed ranges tile [0, TOTAL) exactly: no gap, no overlap.
      consumed.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      let at = 0n;
      for (const range of consumed) {
        expect(range.start).toBe(at);
        at = range.end;
      }
      expect(at).toBe(TOTAL);
      // The dead worker's stale report is refused once its shard moved.
      const stale = await grpcError(
        client.reportShardProgress({
          workerId: "kc",
          datasetId: "kill-ds",
          epoch: 0n,
          shardId: 0n,
          consumed: [{ start: 0n, end: 1n }],
          membershipVersion: 1n,
        }),
      );
      expect([GrpcStatus.FAILED_PRECONDITION, GrpcStatus.NOT_FOUND]).toContain(stale.code);
      const metrics = await (await fetch(`http://${coordinator.http}/metrics`)).text();
      expect(metrics).toMatch(/strata_shard_moves_total [1-9]/);
    } finally {
      kc?.kill("SIGKILL");
      for (const l of loops.values()) l.stop();
      client.close();
      expect(await coordinator.stop()).toBe(0);
      removeDir(dir);
    }
  });
});

describe("the coordinator is killed with SIGKILL and restarted on the same data dir", () => {
  test("state is kept and live workers resume within the grace period", async () => {
    const dir = makeTempDir();
    let coordinator: CoordinatorProcess = await startCoordinatorProcess(dir, [
      "--heartbeat-timeout-ms",
      "3000",
    ]);
    let client = connect(coordinator.grpc);
    let partial: ShardAssignment | undefined;
    const spec = {
      datasetId: "restart-ds",
      totalSamples: 100n,
      shardSize: 10n,
      shuffle: false,
      seed: 1n,
    };
    try {
      expect((await client.registerWorker({ workerId: "ra" })).rank).toBe(0);
      expect((await client.registerWorker({ workerId: "rb" })).rank).toBe(1);
      expect((await client.registerWorker({ workerId: "rc" })).rank).toBe(2);
      await client.registerDataset(spec);
      const list = await client.getShardAssignments("ra", "restart-ds", 0);
      partial = list.shards[0];
      expect(partial).toBeDefined();
      await client.reportShardProgress({
        workerId: "ra",
        datasetId: "restart-ds",
        epoch: 0n,
        shardId: partial!.shardId,
        consumed: [{ start: partial!.startIndex, end: partial!.startIndex + 4n }],
      });
      for (const [rank, id] of ["ra", "rb", "rc"].entries()) {
        const ack = await client.notifyCheckpoint({
          workerId: id,
          jobId: "job-r",
          checkpointId: `c${rank}`,
          step: 50n,
          epoch: 0n,
          storagePath: `/ck/${rank}`,
        });
        expect(ack.success).toBe(true);
      }
      client.close();
      expect(await coordinator.stop("SIGKILL")).toBe("SIGKILL");

      coordinator = await startCoordinatorProcess(dir, ["--heartbeat-timeout-ms", "3000"]);
      client = connect(coordinator.grpc);
      // ra and rb heartbeat within the grace period: still members, same ranks.
      const ra = await client.heartbeat({ workerId: "ra" });
      const rb = await client.heartbeat({ workerId: "rb" });
      expect([ra.rank, rb.rank]).toEqual([0, 1]);
      // Datasets, progress and checkpoints survived.
      expect((await client.registerDataset(spec)).totalShards).toBe(10n);
      expect((await grpcError(client.registerDataset({ ...spec, shardSize: 20n }))).code).toBe(
        GrpcStatus.ALREADY_EXISTS,
      );
      const recovery = await client.getLatestCheckpoint("rb", "job-r");
      expect(recovery).toMatchObject({ hasCheckpoint: true, resumeStep: 50n });
      expect(recovery.latestCheckpoint?.worldSize).toBe(3);
      const after = await client.getShardAssignments("ra", "restart-ds", 0);
      const again = after.shards.find((s) => s.shardId === partial!.shardId);
      expect(again?.consumedSamples).toBe(4n);
      expect(again?.remainingRanges).toEqual([
        { start: partial!.startIndex + 4n, end: partial!.endIndex },
      ]);

      // rc never comes back: after the grace period it is declared dead, ra and rb keep their ranks.
      const loopA = heartbeatLoop(client, "ra");
      const loopB = heartbeatLoop(client, "rb");
      const shrunk = await loopA.until((r) => r.worldSize === 2);
      loopA.stop();
      loopB.stop();
      expect(shrunk.rank).toBe(0);
    } finally {
      client.close();
      await coordinator.stop();
      removeDir(dir);
    }
  });
});
