// A worker process for fault tests: registers, then heartbeats TRAINING every `intervalMs` until
// it is killed (re-registering if the coordinator forgot it, as a real worker would). Prints
// "ready" after its first acknowledged heartbeat. Plain ESM so it starts fast; @strata/proto
// resolves to its built dist.
// Usage: node heartbeat-worker.mjs <target> <workerId> <intervalMs>
import { credentials, status } from "@grpc/grpc-js";
import { CoordinatorClient, WorkerStatus_State } from "@strata/proto";

const [target, workerId, intervalArg] = process.argv.slice(2);
const intervalMs = Number(intervalArg ?? "100");
const client = new CoordinatorClient(target, credentials.createInsecure());
let announced = false;

function register(then) {
  client.registerWorker(
    { workerId, hostname: "fault-test", port: 0, gpuCount: 0, memoryBytes: 0n, metadata: {} },
    (error) => {
      if (error) process.stderr.write(`register failed: ${error.message}\n`);
      setTimeout(then, error ? intervalMs : 0);
    },
  );
}

function beat() {
  client.heartbeat(
    {
      workerId,
      timestampMs: BigInt(Date.now()),
      status: {
        state: WorkerStatus_State.TRAINING,
        currentStep: 0n,
        currentEpoch: 0n,
        currentTask: "train",
      },
      resources: undefined,
    },
    (error) => {
      if (error?.code === status.NOT_FOUND) {
        register(beat);
        return;
      }
      if (error) process.stderr.write(`heartbeat failed: ${error.message}\n`);
      if (!error && !announced) {
        announced = true;
        process.stdout.write("ready\n");
      }
      setTimeout(beat, intervalMs);
    },
  );
}
register(beat);
