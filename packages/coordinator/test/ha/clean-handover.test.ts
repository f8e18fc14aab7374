import { join } from "node:path";
import { credentials, status as GrpcStatus } from "@grpc/grpc-js";
import { CoordinatorClient } from "@strata/proto";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { type EtcdProcess, startEtcd } from "../helpers/etcd-process.js";

// A leader stopped cleanly (SIGTERM: a rollout, a drain, `kubectl delete pod`) hands over at once:
// it resigns before it drains its in-flight calls, so a follower leads while it drains, instead of
// after the drain (up to --shutdown-grace-ms) or the lease TTL. Open heartbeat streams are ended
// with UNAVAILABLE at once, so they do not hold the drain either.
const TTL_S = 15;
const GRACE_MS = 8_000;

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

async function leaderOf(candidates: readonly CoordinatorProcess[]): Promise<CoordinatorProcess> {
  for (let i = 0; i < 400; i++) {
    const roles = await Promise.all(candidates.map(role));
    const leaders = candidates.filter((_, j) => roles[j] === "leader");
    if (leaders.length === 1) return leaders[0] as CoordinatorProcess;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no leader within 20 s");
}

jest.setTimeout(90_000);

test("SIGTERM of the leader with a heartbeat stream open: a follower leads while the old leader drains; it exits 0", async () => {
  const dir = makeTempDir("strata-handover-");
  let etcd: EtcdProcess | undefined;
  const coordinators: CoordinatorProcess[] = [];
  let client: CoordinatorClient | undefined;
  try {
    etcd = await startEtcd(dir);
    for (let i = 0; i < 3; i++) {
      coordinators.push(
        await startCoordinatorProcess(join(dir, `c${i}`), [
          "--state",
          "etcd",
          "--etcd-endpoints",
          etcd.endpoint,
          "--leader-lease-ttl-s",
          String(TTL_S),
          "--shutdown-grace-ms",
          String(GRACE_MS),
        ]),
      );
    }
    const leader = await leaderOf(coordinators);
    const raw = new CoordinatorClient(leader.grpc, credentials.createInsecure());
    client = raw;
    await new Promise<void>((resolve, reject) =>
      raw.registerWorker(
        { workerId: "w", hostname: "h", port: 0, gpuCount: 0, memoryBytes: 0n, metadata: {} },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    // A worker's heartbeat stream, left open: the old leader's drain waits for it.
    const stream = raw.streamHeartbeats();
    const answered = new Promise<void>((resolve) => stream.once("data", () => resolve()));
    const ended = new Promise<string>((resolve) => {
      stream.on("error", (error: { code: number }) => resolve(GrpcStatus[error.code] ?? "?"));
      stream.on("end", () => resolve("OK"));
    });
    stream.write({
      workerId: "w",
      timestampMs: BigInt(Date.now()),
      status: undefined,
      resources: undefined,
    });
    await answered;

    const exited = new Promise<number | null>((resolve) =>
      leader.child.once("exit", (code) => resolve(code)),
    );
    const stoppedAt = Date.now();
    leader.child.kill("SIGTERM");
    const next = await leaderOf(coordinators.filter((c) => c !== leader));
    const tookOverAt = Date.now();
    // Long before the lease TTL and the grace period: the old leader resigned, and its open
    // stream did not hold the drain (shutdown ends it with UNAVAILABLE; the worker reconnects).
    expect(tookOverAt - stoppedAt).toBeLessThan(Math.min(GRACE_MS, TTL_S * 1_000));
    // The new leader knows the worker; the old one finishes its shutdown cleanly.
    expect(await role(next)).toBe("leader");
    expect(await exited).toBe(0);
    expect(await ended).toBe("UNAVAILABLE");
    expect(leader.stderr()).not.toContain('"level":50');
  } finally {
    client?.close();
    for (const c of coordinators) await c.stop("SIGKILL");
    await etcd?.stop("SIGKILL");
    removeDir(dir);
  }
});
