import { join } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { type EtcdProcess, startEtcd } from "../helpers/etcd-process.js";
import { FollowingClient } from "../helpers/following-client.js";
import { connect } from "../helpers/grpc-clients.js";
import { grpcHealth } from "../helpers/grpc-health.js";

const TTL_S = 3;
const HEARTBEAT_TIMEOUT_MS = 5_000;

interface Cluster {
  dir: string;
  etcd: EtcdProcess;
  coordinators: CoordinatorProcess[];
}

async function startCluster(): Promise<Cluster> {
  const dir = makeTempDir("strata-ha-");
  const etcd = await startEtcd(dir);
  const coordinators: CoordinatorProcess[] = [];
  for (let i = 0; i < 3; i++) {
    coordinators.push(
      await startCoordinatorProcess(join(dir, `c${i}`), [
        "--state",
        "etcd",
        "--etcd-endpoints",
        etcd.endpoint,
        "--leader-lease-ttl-s",
        String(TTL_S),
        "--heartbeat-timeout-ms",
        String(HEARTBEAT_TIMEOUT_MS),
      ]),
    );
  }
  return { dir, etcd, coordinators };
}

async function stopCluster(cluster: Cluster): Promise<void> {
  for (const c of cluster.coordinators) await c.stop("SIGKILL");
  await cluster.etcd.stop("SIGKILL");
  removeDir(cluster.dir);
}

async function role(c: CoordinatorProcess): Promise<string | undefined> {
  try {
    const response = await fetch(`http://${c.http}/api/status`, {
      signal: AbortSignal.timeout(1_000),
    });
    return ((await response.json()) as { role?: string }).role;
  } catch {
    return undefined;
  }
}

/** Waits until exactly one of `candidates` says it leads; returns it. */
async function waitForLeader(
  candidates: readonly CoordinatorProcess[],
  timeoutMs = 20_000,
): Promise<CoordinatorProcess> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const roles = await Promise.all(candidates.map(role));
    const leaders = candidates.filter((_, i) => roles[i] === "leader");
    if (leaders.length === 1) return leaders[0] as CoordinatorProcess;
    if (leaders.length > 1) throw new Error(`two coordinators say they lead: ${roles.join(", ")}`);
    if (Date.now() > until)
      throw new Error(`no leader within ${timeoutMs} ms: ${roles.join(", ")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Heartbeats every worker every 300 ms through the following client until stopped. */
function heartbeatLoop(client: FollowingClient, workers: readonly string[]) {
  let running = true;
  const ranks = new Map<string, number[]>();
  const loop = (async () => {
    while (running) {
      await Promise.all(
        workers.map(async (w) => {
          const answer = await client.heartbeat(w).catch(() => undefined);
          if (answer !== undefined) {
            const seen = ranks.get(w) ?? [];
            seen.push(answer.rank);
            ranks.set(w, seen);
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return {
    ranks,
    async stop() {
      running = false;
      await loop;
    },
  };
}

jest.setTimeout(120_000);

describe("a highly available coordinator on etcd", () => {
  test("kill -9 of the leader mid-barrier and mid-checkpoint: a new leader within TTL + 2 s, nothing lost", async () => {
    const cluster = await startCluster();
    const client = new FollowingClient(cluster.coordinators.map((c) => c.grpc));
    try {
      const leader = await waitForLeader(cluster.coordinators);
      // gRPC health checkers see only the leader as serving.
      for (const c of cluster.coordinators) {
        expect({ grpc: c.grpc, health: await grpcHealth(c.grpc) }).toEqual({
          grpc: c.grpc,
          health: c === leader ? "SERVING" : "NOT_SERVING",
        });
      }
      const workers = ["w0", "w1", "w2"];
      const registered = new Map<string, number>();
      for (const w of workers) registered.set(w, (await client.registerWorker(w)).rank);
      expect([...registered.values()].sort()).toEqual([0, 1, 2]);
      const beats = heartbeatLoop(client, workers);
      await client.registerDataset("ds", 300, 10);
      const claimed = new Map<string, bigint>();
      for (const w of workers) {
        const list = await client.assignments(w, "ds");
        const shard = list.shards[0];
        if (shard === undefined) throw new Error(`${w} has no shard`);
        await client.report(w, "ds", shard.shardId, shard.startIndex, shard.startIndex + 5n);
        claimed.set(w, shard.shardId);
      }
      // Mid-checkpoint: rank 0 reported, ranks 1 and 2 not yet.
      expect((await client.notifyCheckpoint("w0", "job", 10, 0, 3)).complete).toBe(false);
      // Mid-barrier: two of three arrived.
      const b0 = client.barrier("w0", "epoch-end", 1, 60_000);
      const b1 = client.barrier("w1", "epoch-end", 1, 60_000);
      await new Promise((r) => setTimeout(r, 300));

      const killedAt = Date.now();
      await leader.stop("SIGKILL");
      const survivors = cluster.coordinators.filter((c) => c !== leader);
      const next = await waitForLeader(survivors);
      const failoverMs = Date.now() - killedAt;
      expect(failoverMs).toBeLessThanOrEqual(TTL_S * 1_000 + 2_000);

      // The barrier completes with all three; the checkpoint completes.
      const b2 = await client.barrier("w2", "epoch-end", 1, 60_000);
      const [r0, r1] = await Promise.all([b0, b1]);
      for (const r of [r0, r1, b2]) {
        expect(r.released).toBe(true);
        expect(r.participants).toBe(3n);
      }
      expect((await client.notifyCheckpoint("w1", "job", 10, 1, 3)).complete).toBe(false);
      expect((await client.notifyCheckpoint("w2", "job", 10, 2, 3)).complete).toBe(true);
      const latest = await client.latestCheckpoint("w0", "job");
      expect(latest).toMatchObject({ hasCheckpoint: true, resumeStep: 10n });

      // Nothing lost: workers kept their ranks, nobody was declared dead, progress is there.
      await new Promise((r) => setTimeout(r, 600));
      await beats.stop();
      for (const w of workers) {
        expect(new Set(beats.ranks.get(w))).toEqual(new Set([registered.get(w)]));
        const hb = await client.heartbeat(w);
        expect(hb.worldSize).toBe(3);
      }
      for (const w of workers) {
        const list = await client.assignments(w, "ds");
        const mine = list.shards.find((s) => s.shardId === claimed.get(w));
        expect(mine?.consumedSamples).toBe(5n);
      }
      const status = (await (await fetch(`http://${next.http}/api/status`)).json()) as {
        role: string;
        leader: { grpc_address: string };
        world_size: number;
      };
      expect(status.role).toBe("leader");
      expect(status.world_size).toBe(3);
      expect(client.answeredBy.includes(next.grpc)).toBe(true);
      // Followers answer with the leader's address.
      const follower = survivors.find((c) => c !== next) as CoordinatorProcess;
      const direct = connect(follower.grpc);
      try {
        const error = await direct.heartbeat({ workerId: "w0" }).then(
          () => undefined,
          (e: { code: number; metadata: { get(k: string): unknown[] } }) => e,
        );
        expect(error?.code).toBe(GrpcStatus.UNAVAILABLE);
        expect(error?.metadata.get("strata-leader")).toEqual([next.grpc]);
      } finally {
        direct.close();
      }
    } finally {
      client.close();
      await stopCluster(cluster);
    }
  });

  test("a leader cut off from etcd (SIGSTOP past its lease) steps down and never answers as leader again", async () => {
    const cluster = await startCluster();
    const client = new FollowingClient(cluster.coordinators.map((c) => c.grpc));
    try {
      const leader = await waitForLeader(cluster.coordinators);
      await client.registerWorker("p0");
      leader.child.kill("SIGSTOP");
      const survivors = cluster.coordinators.filter((c) => c !== leader);
      const next = await waitForLeader(survivors);
      // The worker is still known to the new leader.
      expect((await client.heartbeat("p0")).rank).toBe(0);
      const exited = new Promise<number | null>((resolve) =>
        leader.child.once("exit", (code) => resolve(code)),
      );
      leader.child.kill("SIGCONT");
      // Its first answer after waking up is already not a leader's.
      const direct = connect(leader.grpc);
      try {
        const error = await direct.heartbeat({ workerId: "p0" }).then(
          () => undefined,
          (e: { code: number }) => e,
        );
        expect(error?.code).toBe(GrpcStatus.UNAVAILABLE);
      } finally {
        direct.close();
      }
      // And it stops (fail-stop), to be restarted as a follower by its supervisor.
      expect(await exited).toBe(1);
      expect(leader.stderr()).toContain("leadership lost");
      expect(await role(next)).toBe("leader");
    } finally {
      client.close();
      await stopCluster(cluster);
    }
  });

  test("etcd restarted under load: the cluster keeps its workers and goes on", async () => {
    const cluster = await startCluster();
    const client = new FollowingClient(cluster.coordinators.map((c) => c.grpc));
    try {
      await waitForLeader(cluster.coordinators);
      const workers = ["e0", "e1", "e2", "e3"];
      for (const w of workers) await client.registerWorker(w);
      const beats = heartbeatLoop(client, workers);
      await new Promise((r) => setTimeout(r, 500));
      await cluster.etcd.stop("SIGTERM");
      cluster.etcd = await cluster.etcd.restart();
      const alive = cluster.coordinators.filter((c) => c.child.exitCode === null);
      await waitForLeader(alive, 30_000);
      // Work goes on: a new worker joins, the old ones still have their ranks.
      const joined = await client.registerWorker("e4");
      expect(joined.rank).toBe(4);
      await new Promise((r) => setTimeout(r, 600));
      await beats.stop();
      for (const [i, w] of workers.entries()) {
        expect(new Set(beats.ranks.get(w))).toEqual(new Set([i]));
        expect((await client.heartbeat(w)).worldSize).toBe(5);
      }
    } finally {
      client.close();
      await stopCluster(cluster);
    }
  });
});
