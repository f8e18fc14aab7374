import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  type BarrierResponse,
  CheckpointType,
  CoordinatorClient,
  type HeartbeatResponse,
  type ShardAssignmentList,
} from "@strata/proto";

/**
 * A test client for a group of coordinators: each call goes to the coordinator believed to lead;
 * on UNAVAILABLE it follows the `strata-leader` trailing metadata (or tries the next address)
 * and retries until its deadline, as real clients do (proto/README.md, "Leader").
 */
export class FollowingClient {
  readonly #addresses: string[];
  readonly #clients = new Map<string, CoordinatorClient>();
  #current: string;
  /** Every address a call was answered by, in order (a failover shows as a change). */
  readonly answeredBy: string[] = [];

  constructor(addresses: readonly string[]) {
    this.#addresses = [...addresses];
    this.#current = addresses[0] as string;
  }

  #client(address: string): CoordinatorClient {
    let client = this.#clients.get(address);
    if (client === undefined) {
      client = new CoordinatorClient(address, credentials.createInsecure(), {
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 500,
      });
      this.#clients.set(address, client);
    }
    return client;
  }

  async call<T>(
    invoke: (
      client: CoordinatorClient,
      deadline: Date,
      done: (error: ServiceError | null, value: T) => void,
    ) => void,
    budgetMs = 30_000,
    /** One try's own deadline: a stopped or cut-off coordinator does not hold a call forever. */
    attemptMs = 2_000,
  ): Promise<T> {
    const until = Date.now() + budgetMs;
    let attempt = 0;
    for (;;) {
      const address = this.#current;
      try {
        const value = await new Promise<T>((resolve, reject) =>
          invoke(
            this.#client(address),
            new Date(Math.min(until, Date.now() + attemptMs)),
            (e, v) => (e ? reject(e) : resolve(v)),
          ),
        );
        this.answeredBy.push(address);
        return value;
      } catch (error) {
        const e = error as ServiceError;
        const retryable = e.code === 14 || e.code === 4; // UNAVAILABLE, or this try timed out
        if (!retryable || Date.now() > until) throw e;
        const leader = e.metadata?.get("strata-leader")[0];
        if (typeof leader === "string" && leader !== address) {
          this.#current = leader;
        } else {
          const i = this.#addresses.indexOf(address);
          this.#current = this.#addresses[(i + 1) % this.#addresses.length] as string;
          await new Promise((r) => setTimeout(r, Math.min(500, 50 * 2 ** attempt++)));
        }
      }
    }
  }

  registerWorker(workerId: string) {
    return this.call<{ rank: number; worldSize: number }>((c, deadline, done) =>
      c.registerWorker(
        { workerId, hostname: "ha-test", port: 0, gpuCount: 0, memoryBytes: 0n, metadata: {} },
        new Metadata(),
        { deadline },
        done,
      ),
    );
  }

  heartbeat(workerId: string): Promise<HeartbeatResponse> {
    return this.call((c, deadline, done) =>
      c.heartbeat(
        { workerId, timestampMs: BigInt(Date.now()), status: undefined, resources: undefined },
        new Metadata(),
        { deadline },
        done,
      ),
    );
  }

  registerDataset(datasetId: string, totalSamples: number, shardSize: number) {
    return this.call<{ totalShards: bigint }>((c, deadline, done) =>
      c.registerDataset(
        {
          datasetId,
          path: "/data",
          format: "raw",
          totalSamples: BigInt(totalSamples),
          shardSize: BigInt(shardSize),
          shuffle: true,
          seed: 1n,
          metadata: {},
        },
        new Metadata(),
        { deadline },
        done,
      ),
    );
  }

  assignments(workerId: string, datasetId: string): Promise<ShardAssignmentList> {
    return this.call((c, deadline, done) =>
      c.getShardAssignments(
        { workerId, datasetId, epoch: 0n, pageSize: 0n, pageToken: "" },
        new Metadata(),
        { deadline },
        done,
      ),
    );
  }

  report(workerId: string, datasetId: string, shardId: bigint, start: bigint, end: bigint) {
    return this.call<{ consumedSamples: bigint }>((c, deadline, done) =>
      c.reportShardProgress(
        {
          workerId,
          datasetId,
          epoch: 0n,
          shardId,
          consumed: [{ start, end }],
          membershipVersion: 0n,
        },
        new Metadata(),
        { deadline },
        done,
      ),
    );
  }

  barrier(workerId: string, barrierId: string, step: number, budgetMs = 30_000) {
    // Waiting at a barrier is normal: one try may last the whole budget.
    return this.call<BarrierResponse>(
      (c, deadline, done) =>
        c.waitBarrier(
          {
            workerId,
            barrierId,
            step: BigInt(step),
            timeoutMs: 0n,
            includeParticipantIds: true,
          },
          new Metadata(),
          { deadline },
          done,
        ),
      budgetMs,
      budgetMs,
    );
  }

  notifyCheckpoint(workerId: string, jobId: string, step: number, rank: number, worldSize: number) {
    return this.call<{ complete: boolean; ranksReported: number }>((c, deadline, done) =>
      c.notifyCheckpoint(
        {
          workerId,
          checkpointId: `${jobId}-${step}-${rank}`,
          step: BigInt(step),
          epoch: 0n,
          storagePath: `/ckpt/${jobId}/${step}/${rank}`,
          sizeBytes: 1_000n,
          timestampMs: 0n,
          type: CheckpointType.FULL,
          metadata: {},
          jobId,
          rank,
          worldSize,
        },
        new Metadata(),
        { deadline },
        done,
      ),
    );
  }

  latestCheckpoint(workerId: string, jobId: string) {
    return this.call<{ hasCheckpoint: boolean; resumeStep: bigint }>((c, deadline, done) =>
      c.getLatestCheckpoint({ workerId, jobId }, new Metadata(), { deadline }, done),
    );
  }

  close(): void {
    for (const client of this.#clients.values()) client.close();
  }
}
