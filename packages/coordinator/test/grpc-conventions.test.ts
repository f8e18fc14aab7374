import { Client, credentials, status as GrpcStatus, Metadata } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { COORDINATOR_SERVICE_NAME, CoordinatorClient, HeartbeatRequest } from "@strata/proto";
import { Code, type RuntimeError } from "@strata/runtime-core";
import type { RunningCoordinator } from "../src/index.js";
import { startCoordinator } from "../src/index.js";
import { createMemoryStore } from "../src/store/index.js";
import { connect, grpcError, type TestClient } from "./helpers/grpc-clients.js";

/** Calls a method with raw bytes as its request (what a broken or hostile client sends). */
function rawCall(
  address: string,
  method: string,
  bytes: Buffer,
): Promise<{ code: number; details: string }> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/coordinator.Coordinator/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      (error) => {
        client.close();
        resolve({ code: error?.code ?? 0, details: error?.details ?? "" });
      },
    );
  });
}

let coordinator: RunningCoordinator;
let client: TestClient;

beforeAll(async () => {
  coordinator = await startCoordinator(
    { grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0", rateLimitRps: 0 },
    { store: createMemoryStore() },
  );
  client = connect(coordinator.grpcAddress);
});
afterAll(async () => {
  client.close();
  await coordinator.close();
});

describe("gRPC conventions", () => {
  test.each([
    "RegisterWorker",
    "Heartbeat",
    "DeregisterWorker",
    "RegisterDataset",
    "GetDataShard",
    "NotifyCheckpoint",
    "GetLatestCheckpoint",
    "WaitBarrier",
    "GetShardAssignments",
    "ReportShardProgress",
    "GetShardProgress",
    "RestoreShardProgress",
  ])("%s: bytes that are not protobuf are INVALID_ARGUMENT, not INTERNAL", async (method) => {
    // Field 1, wire type 2 (length-delimited), length 10, but only 2 bytes follow: truncated.
    const { code, details } = await rawCall(
      coordinator.grpcAddress,
      method,
      Buffer.from([0x0a, 0x0a, 0x41, 0x42]),
    );
    expect(code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(details).toMatch(/not a valid .* message/);
  });

  test("StreamHeartbeats: a malformed message ends the stream with INVALID_ARGUMENT", async () => {
    const raw = new Client(coordinator.grpcAddress, credentials.createInsecure());
    const call = raw.makeBidiStreamRequest(
      "/coordinator.Coordinator/StreamHeartbeats",
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const ended = new Promise<number>((resolve) => {
      call.on("error", (error: { code: number }) => resolve(error.code));
      call.on("data", () => undefined);
    });
    call.write(Buffer.from([0x0a, 0x0a, 0x41]));
    expect(await ended).toBe(GrpcStatus.INVALID_ARGUMENT);
    raw.close();
  });

  test("the standard health service says SERVING for the server and for coordinator.Coordinator", async () => {
    const pkg = loadSync(require.resolve("grpc-health-check/proto/health/v1/health.proto"), {
      keepCase: true,
    });
    const health = new Client(coordinator.grpcAddress, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<string>((resolve, reject) =>
        health.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          (r: { service: string }) =>
            Buffer.from([0x0a, r.service.length, ...Buffer.from(r.service)]),
          (b: Buffer) => b,
          { service },
          (error, response) => {
            if (error) reject(error);
            // HealthCheckResponse { status = 1 }: SERVING is 1.
            else resolve((response as Buffer)[1] === 1 ? "SERVING" : `other:${String(response)}`);
          },
        ),
      );
    expect(pkg["grpc.health.v1.Health"]).toBeDefined();
    expect(await check("")).toBe("SERVING");
    expect(await check(COORDINATOR_SERVICE_NAME)).toBe("SERVING");
    health.close();
  });

  test("server reflection lists the coordinator service (grpcurl works without our proto)", async () => {
    const reflection = new Client(coordinator.grpcAddress, credentials.createInsecure());
    const call = reflection.makeBidiStreamRequest(
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const answer = new Promise<Buffer>((resolve, reject) => {
      call.on("data", (b: Buffer) => resolve(b));
      call.on("error", reject);
    });
    // ServerReflectionRequest { list_services (field 7) = "*" }
    call.write(Buffer.from([0x3a, 0x01, 0x2a]));
    const bytes = await answer;
    expect(bytes.toString("latin1")).toContain(COORDINATOR_SERVICE_NAME);
    call.end();
    reflection.close();
  });

  test("a client that sends heartbeats but never reads is paused, not buffered without bound", async () => {
    await client.registerWorker({ workerId: "flooder" });
    const raw = new CoordinatorClient(coordinator.grpcAddress, credentials.createInsecure());
    const stream = raw.streamHeartbeats(new Metadata());
    stream.on("error", () => undefined); // the cancel at the end
    stream.pause(); // never read the answers
    const before = coordinator.engine.snapshot().counters.heartbeats;
    // A well-behaved sender: it waits whenever its own stream says so. If the server kept reading
    // (and buffering its unread answers), this would go on for the whole two seconds; with the
    // server paused, HTTP/2 flow control stops the sender after a few thousand messages.
    let sent = 0;
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      const ok = stream.write(
        HeartbeatRequest.fromPartial({ workerId: "flooder", timestampMs: 1n }),
      );
      sent++;
      if (!ok) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => stream.once("drain", () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), Math.max(0, until - Date.now()))),
        ]);
        if (!drained) break;
      }
    }
    const handled = coordinator.engine.snapshot().counters.heartbeats - before;
    expect(handled).toBeGreaterThan(0);
    expect(handled).toBeLessThan(20_000);
    // The sender was stopped by flow control instead of streaming for the whole two seconds.
    expect(sent).toBeLessThan(200_000);
    stream.cancel();
    raw.close();
  });

  test("an original client's checkpoint (no job, no world size) is whole: complete when it arrives", async () => {
    await client.registerWorker({ workerId: "old-a" });
    const ack = await client.notifyCheckpoint({
      workerId: "unregistered-old",
      checkpointId: "model-7",
      step: 7n,
      storagePath: "/ckpt/model-7.pt",
      sizeBytes: 650n * 1024n * 1024n,
    });
    expect(ack.complete).toBe(true);
    const recovery = await client.getLatestCheckpoint("old-a");
    expect(recovery.hasCheckpoint).toBe(true);
    expect(recovery.resumeStep).toBe(7n);
    expect(recovery.latestCheckpoint?.storagePath).toBe("/ckpt/model-7.pt");
  });

  test("an empty range claims a shard without consuming it", async () => {
    await client.registerWorker({ workerId: "claimer" });
    await client.registerDataset({ datasetId: "claims", totalSamples: 100n, shardSize: 10n });
    const list = await client.getShardAssignments("claimer", "claims", 0);
    const first = list.shards[0];
    if (first === undefined) throw new Error("no shard");
    const ack = await client.reportShardProgress({
      workerId: "claimer",
      datasetId: "claims",
      shardId: first.shardId,
      consumed: [{ start: first.startIndex, end: first.startIndex }],
    });
    expect(ack.consumedSamples).toBe(0n);
    const map = coordinator.engine.datasetShardMap("claims");
    expect(map.pinned[Number(first.shardId)]).toBe(true);
    const backwards = await grpcError(
      client.reportShardProgress({
        workerId: "claimer",
        datasetId: "claims",
        shardId: first.shardId,
        consumed: [{ start: first.startIndex + 2n, end: first.startIndex + 1n }],
      }),
    );
    expect(backwards.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  });
});

describe("large datasets (own coordinator: a re-plan of a million shards is not cheap)", () => {
  let big: RunningCoordinator;
  let client: TestClient;
  beforeAll(async () => {
    big = await startCoordinator(
      { grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0", rateLimitRps: 0 },
      { store: createMemoryStore() },
    );
    client = connect(big.grpcAddress);
    await client.registerWorker({ workerId: "pager" });
    await client.registerWorker({ workerId: "big" });
  });
  afterAll(async () => {
    client.close();
    await big.close();
  });

  test("GetShardAssignments pages a large assignment; a stale page token is FAILED_PRECONDITION", async () => {
    await client.registerDataset({
      datasetId: "paged",
      totalSamples: 250_000n,
      shardSize: 1n,
    });
    const seen = new Set<bigint>();
    let token = "";
    let pages = 0;
    let assigned = 0n;
    do {
      const page = await new Promise<{
        shards: { shardId: bigint }[];
        nextPageToken: string;
        assignedShards: bigint;
      }>((resolve, reject) =>
        client.raw.getShardAssignments(
          { workerId: "pager", datasetId: "paged", epoch: 0n, pageSize: 0n, pageToken: token },
          (error, response) => (error ? reject(error) : resolve(response)),
        ),
      );
      for (const s of page.shards) seen.add(s.shardId);
      expect(page.shards.length).toBeLessThanOrEqual(10_000);
      token = page.nextPageToken;
      assigned = page.assignedShards;
      pages++;
    } while (token !== "");
    expect(BigInt(seen.size)).toBe(assigned);
    expect(pages).toBe(Math.ceil(Number(assigned) / 10_000));
    const stale = await new Promise<{ code: number; details: string }>((resolve) =>
      client.raw.getShardAssignments(
        { workerId: "pager", datasetId: "paged", epoch: 0n, pageSize: 0n, pageToken: "999.10" },
        (error) => resolve({ code: error?.code ?? 0, details: error?.details ?? "" }),
      ),
    );
    expect(stale.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    const garbage = await new Promise<number>((resolve) =>
      client.raw.getShardAssignments(
        { workerId: "pager", datasetId: "paged", epoch: 0n, pageSize: 0n, pageToken: "x" },
        (error) => resolve(error?.code ?? 0),
      ),
    );
    expect(garbage).toBe(GrpcStatus.INVALID_ARGUMENT);
  });

  test("GetLatestCheckpoint stays correct past 150,000 shards per worker (summarised, not spread)", async () => {
    await client.registerDataset({ datasetId: "huge", totalSamples: 1_000_000n, shardSize: 1n });
    await client.notifyCheckpoint({ workerId: "big", checkpointId: "c", step: 1n });
    const recovery = await client.getLatestCheckpoint("big");
    expect(recovery.hasCheckpoint).toBe(true);
    expect(recovery.shardAssignments.length).toBeLessThanOrEqual(10_000);
    expect(recovery.shardAssignmentsTruncated).toBe(true);
  });
});

describe("rate limits are keyed by client IP", () => {
  test("a new connection from the same IP does not get a fresh bucket", async () => {
    const limited = await startCoordinator(
      { grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0", rateLimitRps: 1, rateLimitBurst: 3 },
      { store: createMemoryStore() },
    );
    const codes: number[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        // A fresh channel (a new TCP connection, a new source port) every time.
        const fresh = connect(limited.grpcAddress);
        try {
          await fresh.registerWorker({ workerId: `ip-${i}` });
          codes.push(0);
        } catch (error) {
          codes.push((error as { code: number }).code);
        } finally {
          fresh.close();
        }
      }
    } finally {
      await limited.close();
    }
    expect(codes.slice(0, 3)).toEqual([0, 0, 0]);
    expect(codes.slice(3)).toEqual([GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.RESOURCE_EXHAUSTED]);
  });
});

describe("fail-stop", () => {
  test("a store that keeps failing makes the coordinator stop serving and report it", async () => {
    const store = createMemoryStore();
    const fatal: RuntimeError[] = [];
    const failing = await startCoordinator(
      { grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0" },
      { store, onFatal: (error) => fatal.push(error) },
    );
    const c = connect(failing.grpcAddress);
    try {
      store.failApplies(Number.POSITIVE_INFINITY);
      for (let i = 0; i < 3; i++) {
        const error = await grpcError(c.registerWorker({ workerId: `f${i}` }));
        expect(error.code).toBe(GrpcStatus.UNAVAILABLE);
      }
      expect(fatal).toHaveLength(1);
      expect(fatal[0]?.code).toBe(Code.Unavailable);
      const ready = await fetch(`http://${failing.httpAddress}/api/ready`);
      expect(ready.status).toBe(503);
    } finally {
      c.close();
      await failing.close();
    }
  });
});
