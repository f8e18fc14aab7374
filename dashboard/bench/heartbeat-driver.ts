import { createCoordinatorClient } from "@strata/client-sdk";

type Client = ReturnType<typeof createCoordinatorClient>;
type HeartbeatStream = ReturnType<Client["streamHeartbeats"]>;

/** `WorkerStatus.State.TRAINING` in proto/coordinator.proto (a pinned wire value). */
const TRAINING = 4;

/** Simulated workers that register and then stream heartbeats whose values change every time. */
export interface HeartbeatDriver {
  /** Registers every worker (in parallel over the channels). */
  register(): Promise<void>;
  /** Starts or pauses the heartbeats: each worker once a second, at its own phase. */
  setStreaming(on: boolean): void;
  /** Heartbeats written so far. */
  readonly sent: number;
  close(): void;
}

/**
 * Drives `count` workers over `channels` gRPC connections (the SDK's `createCoordinatorClient`):
 * one `StreamHeartbeats` stream per worker, each heartbeat with a new step, CPU and memory value,
 * so every coordinator tick carries every worker as changed: the dashboard's worst case.
 */
export function createHeartbeatDriver(
  target: string,
  count: number,
  channels = 8,
): HeartbeatDriver {
  const clients: Client[] = Array.from({ length: channels }, (_, i) =>
    createCoordinatorClient({ target, channelOptions: { "bench.channel": i } }),
  );
  const ids = Array.from({ length: count }, (_, i) => `bench-${String(i).padStart(4, "0")}`);
  const client = (i: number) => clients[i % channels] as Client;
  let streams: HeartbeatStream[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let sent = 0;
  let tick = 0;

  const register = (i: number) =>
    new Promise<void>((resolve, reject) => {
      client(i).registerWorker(
        {
          workerId: ids[i] as string,
          hostname: `node-${Math.floor(i / 8)}`,
          port: 0,
          gpuCount: 8,
          memoryBytes: 512n * 1024n ** 3n,
          metadata: {},
        },
        (error) => (error ? reject(error) : resolve()),
      );
    });

  return {
    get sent() {
      return sent;
    },
    async register() {
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < count) await register(next++);
        }),
      );
    },
    setStreaming(on) {
      if (on && timer === undefined) {
        streams = ids.map((_, i) => {
          const stream = client(i).streamHeartbeats();
          stream.on("data", () => {});
          stream.on("error", () => {});
          return stream;
        });
        // Every 50 ms a twentieth of the workers heartbeat: each worker once a second.
        timer = setInterval(() => {
          const slice = tick++ % 20;
          for (let i = slice; i < count; i += 20) {
            const step = BigInt(tick * 3 + i);
            streams[i]?.write({
              workerId: ids[i] as string,
              timestampMs: BigInt(Date.now()),
              status: {
                state: TRAINING,
                currentStep: step,
                currentEpoch: 1n,
                currentTask: "bench",
              },
              resources: {
                cpuPercent: 150 + ((tick + i) % 50),
                memoryUsedBytes: BigInt(64 + ((tick + i) % 32)) * 1024n ** 3n,
                gpuUsage: [],
                diskReadBytes: 0n,
                diskWriteBytes: 0n,
                networkRxBytes: 0n,
                networkTxBytes: 0n,
              },
            });
            sent++;
          }
        }, 50);
      } else if (!on && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
        for (const stream of streams) stream.end();
        streams = [];
      }
    },
    close() {
      this.setStreaming(false);
      for (const c of clients) c.close();
    },
  };
}
