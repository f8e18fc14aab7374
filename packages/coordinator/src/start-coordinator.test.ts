import { credentials, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { CoordinatorClient, HeartbeatRequest } from "@strata/proto";
import { Code, RuntimeError } from "@strata/runtime-core";
import { startCoordinator } from "./start-coordinator.js";
import { createMemoryStore } from "./store/index.js";

describe("startCoordinator (library API)", () => {
  test("binds port 0, serves gRPC and HTTP, adds routes, closes idempotently", async () => {
    const coordinator = await startCoordinator(
      { grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0" },
      {
        store: createMemoryStore(),
        routes: (router, engine) =>
          router.get("/api/world", (_request, response) => {
            response.json({ worldSize: engine.snapshot().worldSize });
          }),
      },
    );
    const client = new CoordinatorClient(coordinator.grpcAddress, credentials.createInsecure());
    try {
      expect(coordinator.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(coordinator.grpcAddress).not.toBe("127.0.0.1:0");
      const config = await new Promise<{ rank: number }>((resolve, reject) =>
        client.registerWorker(
          { workerId: "lib-1", hostname: "", port: 0, gpuCount: 0, memoryBytes: 0n, metadata: {} },
          (error, response) => (error ? reject(error) : resolve(response)),
        ),
      );
      expect(config.rank).toBe(0);
      const world = await fetch(`http://${coordinator.httpAddress}/api/world`);
      expect(await world.json()).toEqual({ worldSize: 1 });
      const ready = await fetch(`http://${coordinator.httpAddress}/api/ready`);
      expect(ready.status).toBe(200);
    } finally {
      client.close();
      const first = coordinator.close();
      expect(coordinator.close()).toBe(first);
      await first;
    }
    expect(coordinator.engine.ready).toBe(false);
  });

  test("close() ends open heartbeat streams with UNAVAILABLE instead of waiting out the grace period", async () => {
    // A grace period far beyond the test's timeout: a drain held by the stream would time out.
    const coordinator = await startCoordinator(
      { grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0", shutdownGraceMs: 600_000 },
      { store: createMemoryStore() },
    );
    const client = new CoordinatorClient(coordinator.grpcAddress, credentials.createInsecure());
    try {
      await new Promise<void>((resolve, reject) =>
        client.registerWorker(
          { workerId: "s-1", hostname: "", port: 0, gpuCount: 0, memoryBytes: 0n, metadata: {} },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
      const stream = client.streamHeartbeats();
      const ended = new Promise<number>((resolve) => {
        stream.on("error", (error: ServiceError) => resolve(error.code));
        stream.on("end", () => resolve(GrpcStatus.OK));
      });
      const answered = new Promise<void>((resolve) => stream.once("data", () => resolve()));
      stream.write(
        HeartbeatRequest.fromPartial({ workerId: "s-1", timestampMs: BigInt(Date.now()) }),
      );
      await answered;
      await coordinator.close();
      expect(await ended).toBe(GrpcStatus.UNAVAILABLE);
    } finally {
      client.close();
    }
  });

  test("bad configuration is InvalidArgument naming the key", async () => {
    const error = await startCoordinator(
      { grpcAddr: "nowhere", httpAddr: "127.0.0.1:0" },
      { store: createMemoryStore() },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe(Code.InvalidArgument);
    expect((error as RuntimeError).rawMessage).toContain("grpcAddr");
  });

  test("a port in use fails the start and releases what was started", async () => {
    const first = await startCoordinator(
      { grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0" },
      { store: createMemoryStore() },
    );
    try {
      const error = await startCoordinator(
        { grpcAddr: "127.0.0.1:0", httpAddr: first.httpAddress },
        { store: createMemoryStore() },
      ).catch((e: unknown) => e);
      expect((error as RuntimeError).code).toBe(Code.Unavailable);
      expect((error as RuntimeError).rawMessage).toContain("cannot bind HTTP server");
    } finally {
      await first.close();
    }
  });
});
