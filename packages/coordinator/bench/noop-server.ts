// A grpc-js server with the coordinator's service definition and no logic: the floor the
// benchmark compares the coordinator against. Heartbeats answer at once; WaitBarrier holds calls
// until the count encoded in the barrier id ("b-<count>-<round>") has arrived, then releases all.
// Started with child_process.fork; talks to the bench over IPC.
import { performance } from "node:perf_hooks";
import {
  type handleUnaryCall,
  Server,
  ServerCredentials,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import type { BarrierResponse, CoordinatorServer } from "@strata/proto";
import { CoordinatorService } from "@strata/proto";

const send = (message: unknown) => process.send?.(message);

const held = new Map<string, { callbacks: sendUnaryData<BarrierResponse>[]; lastMs: number }>();
const unimplemented: handleUnaryCall<unknown, never> = (_call, callback) =>
  callback({ code: status.UNIMPLEMENTED }, null);

const service: CoordinatorServer = {
  registerWorker(call, callback) {
    callback(null, {
      assignedId: call.request.workerId,
      rank: 0,
      worldSize: 1,
      heartbeatIntervalMs: 5000n,
      config: {},
      membershipVersion: 1n,
    });
  },
  heartbeat(_call, callback) {
    callback(null, {
      acknowledged: true,
      serverTimestampMs: BigInt(Date.now()),
      pendingCommands: [],
      membershipVersion: 1n,
      rank: 0,
      worldSize: 1,
    });
  },
  waitBarrier(call, callback) {
    const receivedMs = performance.now();
    const id = call.request.barrierId;
    const expected = Number(id.split("-")[1]);
    let entry = held.get(id);
    if (entry === undefined) {
      entry = { callbacks: [], lastMs: 0 };
      held.set(id, entry);
    }
    entry.callbacks.push(callback);
    if (entry.callbacks.length === expected - 1) send({ t: "armed", id });
    if (entry.callbacks.length < expected) return;
    held.delete(id);
    const participants = BigInt(expected);
    entry.callbacks.forEach((cb, i) => {
      cb(null, {
        released: true,
        barrierId: id,
        participants,
        arrivalOrder: BigInt(i + 1),
        participantIds: [],
        membershipVersion: 1n,
      });
    });
    send({ t: "released", id, serverMs: performance.now() - receivedMs });
  },
  deregisterWorker: unimplemented,
  registerDataset: unimplemented,
  getDataShard: unimplemented,
  notifyCheckpoint: unimplemented,
  getLatestCheckpoint: unimplemented,
  getShardAssignments: unimplemented,
  reportShardProgress: unimplemented,
  getShardProgress: unimplemented,
  restoreShardProgress: unimplemented,
  streamHeartbeats(call) {
    call.on("data", () =>
      call.write({
        acknowledged: true,
        serverTimestampMs: BigInt(Date.now()),
        pendingCommands: [],
        membershipVersion: 1n,
        rank: 0,
        worldSize: 1,
      }),
    );
    call.on("end", () => call.end());
  },
};

const server = new Server({
  "grpc.max_receive_message_length": 4 * 1024 * 1024,
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_concurrent_streams": 10_000,
});
server.addService(CoordinatorService, service);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  send({ t: "listening", address: `127.0.0.1:${port}` });
});
process.on("disconnect", () => server.forceShutdown());
