import { createServer } from "node:net";
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { CoordinatorService, type WorkerConfig, type WorkerInfo } from "@strata/proto";
import { Code } from "@strata/runtime-core";
import { createCoordinatorConnection } from "../src/index.js";

/** An address nothing listens on (a port that was free a moment ago). */
async function freeAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

/**
 * A small grpc-js server on port 0. `mode` decides how RegisterWorker answers: as the leader, or
 * as a follower (UNAVAILABLE with `strata-leader` trailing metadata naming `leader()`), or
 * UNAVAILABLE without a hint for the first `failures` calls.
 */
async function fakeCoordinator(
  behave: (
    call: ServerUnaryCall<WorkerInfo, WorkerConfig>,
    n: number,
  ) => WorkerConfig | { code: number; details: string; leader?: string; field?: string },
): Promise<{ server: Server; address: string; calls: () => number }> {
  let calls = 0;
  const server = new Server();
  const impl: UntypedServiceImplementation = {};
  for (const name of Object.keys(CoordinatorService)) {
    impl[name] = (_call: unknown, callback: sendUnaryData<unknown>) =>
      callback({ code: status.UNIMPLEMENTED });
  }
  impl.registerWorker = (
    call: ServerUnaryCall<WorkerInfo, WorkerConfig>,
    callback: sendUnaryData<WorkerConfig>,
  ) => {
    calls++;
    const answer = behave(call, calls);
    if ("code" in answer) {
      const metadata = new Metadata();
      if (answer.leader !== undefined) metadata.set("strata-leader", answer.leader);
      if (answer.field !== undefined) metadata.set("strata-field", answer.field);
      callback({ code: answer.code, details: answer.details, metadata });
    } else {
      callback(null, answer);
    }
  };
  server.addService(CoordinatorService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return { server, address: `127.0.0.1:${port}`, calls: () => calls };
}

const config = (id: string): WorkerConfig => ({
  assignedId: id,
  rank: 3,
  worldSize: 4,
  heartbeatIntervalMs: 1000n,
  config: {},
  membershipVersion: 9n,
});

const register = {
  workerId: "w-1",
  hostname: "h",
  port: 0,
  gpuCount: 0,
  memoryBytes: 0n,
  metadata: {},
};

describe("leader following", () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const s of servers) s.forceShutdown();
  });

  test("a follower's strata-leader hint is followed at once", async () => {
    const leader = await fakeCoordinator((call) => config(call.request.workerId));
    const follower = await fakeCoordinator(() => ({
      code: status.UNAVAILABLE,
      details: `not the leader; the leader is at ${leader.address}`,
      leader: leader.address,
    }));
    servers.push(leader.server, follower.server);
    const connection = createCoordinatorConnection({ addresses: [follower.address] });
    try {
      const answer = await connection.unary("registerWorker", register, { timeoutMs: 5_000 });
      expect(answer.assignedId).toBe("w-1");
      expect(follower.calls()).toBe(1);
      expect(leader.calls()).toBe(1);
      expect(connection.address).toBe(leader.address);
      expect(connection.addresses).toEqual([follower.address, leader.address]);
      // Later calls go straight to the leader.
      await connection.unary("registerWorker", register);
      expect(follower.calls()).toBe(1);
    } finally {
      connection.close();
    }
  });

  test("without a hint the next address is tried, with backoff between rounds", async () => {
    const dead = await freeAddress(); // nothing listens there
    const leaderless = await fakeCoordinator(() => ({
      code: status.UNAVAILABLE,
      details: "not the leader; no leader is known",
    }));
    const leader = await fakeCoordinator((call) => config(call.request.workerId));
    servers.push(leaderless.server, leader.server);
    const delays: number[] = [];
    const connection = createCoordinatorConnection({
      addresses: [dead, leaderless.address, leader.address],
      backoff: { initialDelayMs: 20, maxDelayMs: 40, jitter: 0.5 },
      random: () => {
        delays.push(1);
        return 0.5;
      },
    });
    try {
      const answer = await connection.unary("registerWorker", register, { timeoutMs: 5_000 });
      expect(answer.rank).toBe(3);
      expect(leaderless.calls()).toBe(1);
      expect(connection.address).toBe(leader.address);
      expect(delays.length).toBe(2); // one jittered backoff per failed address
    } finally {
      connection.close();
    }
  });

  test("a leader that moves again is followed; a hint loop ends at the reconnect timeout", async () => {
    const a = await fakeCoordinator(() => ({
      code: status.UNAVAILABLE,
      details: "no",
      leader: b.address,
    }));
    const b = await fakeCoordinator(() => ({
      code: status.UNAVAILABLE,
      details: "no",
      leader: a.address,
    }));
    servers.push(a.server, b.server);
    const connection = createCoordinatorConnection({
      addresses: a.address,
      backoff: { initialDelayMs: 10, maxDelayMs: 50 },
      reconnectTimeoutMs: 400,
    });
    try {
      const started = Date.now();
      await expect(connection.unary("registerWorker", register)).rejects.toMatchObject({
        code: Code.Unavailable,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(a.calls()).toBeGreaterThan(1);
      expect(b.calls()).toBeGreaterThan(1);
    } finally {
      connection.close();
    }
  });

  test("other errors are RuntimeErrors with the gRPC code, the method and the field", async () => {
    const strict = await fakeCoordinator(() => ({
      code: status.INVALID_ARGUMENT,
      details: "worker_id: may only contain letters",
      field: "worker_id",
    }));
    servers.push(strict.server);
    const connection = createCoordinatorConnection({ addresses: strict.address });
    try {
      await expect(connection.unary("registerWorker", register)).rejects.toMatchObject({
        code: Code.InvalidArgument,
        details: { method: "registerWorker", field: "worker_id" },
      });
      expect(strict.calls()).toBe(1); // not retried
      const controller = new AbortController();
      controller.abort();
      await expect(
        connection.unary("registerWorker", register, { signal: controller.signal }),
      ).rejects.toMatchObject({ code: Code.Canceled });
    } finally {
      connection.close();
    }
  });
});
