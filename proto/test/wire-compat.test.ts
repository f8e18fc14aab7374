import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CoordinatorService, HeartbeatRequest, WorkerStatus_State } from "../src/index.js";

// The original Strata contract (§1.1 of the reference): message → "type name = number".
// Our proto may add fields and RPCs but must keep every one of these exactly.
const original: Record<string, string[]> = {
  WorkerInfo: [
    "string worker_id=1",
    "string hostname=2",
    "int32 port=3",
    "int32 gpu_count=4",
    "int64 memory_bytes=5",
    "map<string,string> metadata=6",
  ],
  WorkerConfig: [
    "string assigned_id=1",
    "int32 rank=2",
    "int32 world_size=3",
    "int64 heartbeat_interval_ms=4",
    "map<string,string> config=5",
  ],
  HeartbeatRequest: [
    "string worker_id=1",
    "int64 timestamp_ms=2",
    "WorkerStatus status=3",
    "ResourceUsage resources=4",
  ],
  HeartbeatResponse: [
    "bool acknowledged=1",
    "int64 server_timestamp_ms=2",
    "repeated string pending_commands=3",
  ],
  WorkerStatus: [
    "State state=1",
    "int64 current_step=2",
    "int64 current_epoch=3",
    "string current_task=4",
  ],
  ResourceUsage: [
    "double cpu_percent=1",
    "int64 memory_used_bytes=2",
    "repeated GpuUsage gpu_usage=3",
    "int64 disk_read_bytes=4",
    "int64 disk_write_bytes=5",
    "int64 network_rx_bytes=6",
    "int64 network_tx_bytes=7",
  ],
  GpuUsage: [
    "int32 gpu_id=1",
    "double utilization_percent=2",
    "int64 memory_used_bytes=3",
    "int64 memory_total_bytes=4",
    "double temperature_celsius=5",
  ],
  ShardRequest: ["string worker_id=1", "string dataset_id=2", "int64 epoch=3"],
  ShardAssignment: [
    "string dataset_id=1",
    "int64 shard_id=2",
    "int64 total_shards=3",
    "int64 start_index=4",
    "int64 end_index=5",
    "repeated string file_paths=6",
    "int64 epoch=7",
  ],
  CheckpointInfo: [
    "string worker_id=1",
    "string checkpoint_id=2",
    "int64 step=3",
    "int64 epoch=4",
    "string storage_path=5",
    "int64 size_bytes=6",
    "int64 timestamp_ms=7",
    "CheckpointType type=8",
    "map<string,string> metadata=9",
  ],
  CheckpointAck: [
    "bool success=1",
    "string checkpoint_id=2",
    "string message=3",
    "int64 global_step=4",
  ],
  BarrierRequest: ["string worker_id=1", "string barrier_id=2", "int64 step=3"],
  BarrierResponse: [
    "bool released=1",
    "string barrier_id=2",
    "int64 participants=3",
    "int64 arrival_order=4",
  ],
  DatasetInfo: [
    "string dataset_id=1",
    "string path=2",
    "string format=3",
    "int64 total_samples=4",
    "int64 shard_size=5",
    "bool shuffle=6",
    "int64 seed=7",
    "map<string,string> metadata=8",
  ],
  DatasetAck: ["bool success=1", "string dataset_id=2", "int64 total_shards=3", "string message=4"],
  RecoveryRequest: ["string worker_id=1", "string job_id=2"],
  RecoveryResponse: [
    "bool has_checkpoint=1",
    "CheckpointInfo latest_checkpoint=2",
    "int64 resume_step=3",
    "int64 resume_epoch=4",
    "repeated ShardAssignment shard_assignments=5",
  ],
};

const rpcs: Record<string, [string, string, boolean]> = {
  RegisterWorker: ["WorkerInfo", "WorkerConfig", false],
  Heartbeat: ["HeartbeatRequest", "HeartbeatResponse", false],
  DeregisterWorker: ["WorkerInfo", "WorkerConfig", false],
  RegisterDataset: ["DatasetInfo", "DatasetAck", false],
  GetDataShard: ["ShardRequest", "ShardAssignment", false],
  NotifyCheckpoint: ["CheckpointInfo", "CheckpointAck", false],
  GetLatestCheckpoint: ["RecoveryRequest", "RecoveryResponse", false],
  WaitBarrier: ["BarrierRequest", "BarrierResponse", false],
  StreamHeartbeats: ["HeartbeatRequest", "HeartbeatResponse", true],
};

const proto = readFileSync(join(__dirname, "..", "coordinator.proto"), "utf8").replace(
  /\/\/.*$/gm,
  "",
);

/** The body of `message Name { … }`, nested braces included. */
function messageBody(name: string): string {
  const start = proto.search(new RegExp(`\\bmessage\\s+${name}\\s*\\{`));
  if (start < 0) throw new Error(`message ${name} missing`);
  let depth = 0;
  for (let i = proto.indexOf("{", start); i < proto.length; i++) {
    if (proto[i] === "{") depth++;
    if (proto[i] === "}" && --depth === 0) return proto.slice(start, i);
  }
  throw new Error(`message ${name} unterminated`);
}

function fields(name: string): Set<string> {
  const body = messageBody(name).replace(/\benum\s+\w+\s*\{[^}]*\}/g, "");
  const out = new Set<string>();
  for (const m of body.matchAll(
    /((?:repeated\s+)?(?:map\s*<[^>]+>|[\w.]+))\s+(\w+)\s*=\s*(\d+)\s*;/g,
  )) {
    out.add(`${(m[1] ?? "").replace(/\s+/g, " ").replace(/\s*([<>,])\s*/g, "$1")} ${m[2]}=${m[3]}`);
  }
  return out;
}

describe("coordinator.proto stays wire-compatible with the original contract", () => {
  test("package and service names", () => {
    expect(proto).toMatch(/^\s*package\s+coordinator\s*;/m);
    expect(proto).toMatch(/\bservice\s+Coordinator\s*\{/);
  });

  test.each(Object.entries(original))("message %s keeps every original field", (name, expected) => {
    const actual = fields(name);
    for (const field of expected) expect(actual).toContain(field);
  });

  test("no field number is used twice in a message", () => {
    for (const name of Object.keys(original)) {
      const numbers = [...fields(name)].map((f) => f.split("=")[1]);
      expect(new Set(numbers).size).toBe(numbers.length);
    }
  });

  test.each(Object.entries(rpcs))(
    "rpc %s keeps its request, response and streaming",
    (rpc, [req, res, streaming]) => {
      const pattern = streaming
        ? new RegExp(
            `rpc\\s+${rpc}\\s*\\(\\s*stream\\s+${req}\\s*\\)\\s*returns\\s*\\(\\s*stream\\s+${res}\\s*\\)`,
          )
        : new RegExp(`rpc\\s+${rpc}\\s*\\(\\s*${req}\\s*\\)\\s*returns\\s*\\(\\s*${res}\\s*\\)`);
      expect(proto).toMatch(pattern);
      const method = (
        CoordinatorService as Record<string, { path: string; requestStream: boolean }>
      )[rpc.charAt(0).toLowerCase() + rpc.slice(1)];
      expect(method?.path).toBe(`/coordinator.Coordinator/${rpc}`);
      expect(method?.requestStream).toBe(streaming);
    },
  );

  test("WorkerStatus.State and CheckpointType keep their numbers", () => {
    expect(messageBody("WorkerStatus")).toMatch(
      /UNKNOWN\s*=\s*0;\s*INITIALIZING\s*=\s*1;\s*IDLE\s*=\s*2;\s*LOADING_DATA\s*=\s*3;\s*TRAINING\s*=\s*4;\s*CHECKPOINTING\s*=\s*5;\s*RECOVERING\s*=\s*6;\s*ERROR\s*=\s*7;/,
    );
    expect(proto).toMatch(
      /enum\s+CheckpointType\s*\{\s*FULL\s*=\s*0;\s*INCREMENTAL\s*=\s*1;\s*OPTIMIZER_ONLY\s*=\s*2;\s*MODEL_ONLY\s*=\s*3;/,
    );
  });

  test("int64 fields round-trip as bigint beyond 2^53", () => {
    const big = 2n ** 62n + 7n;
    const bytes = HeartbeatRequest.encode({
      workerId: "w",
      timestampMs: big,
      status: {
        state: WorkerStatus_State.TRAINING,
        currentStep: big,
        currentEpoch: 3n,
        currentTask: "t",
      },
      resources: undefined,
    }).finish();
    const back = HeartbeatRequest.decode(bytes);
    expect(back.timestampMs).toBe(big);
    expect(back.status?.currentStep).toBe(big);
  });
});
