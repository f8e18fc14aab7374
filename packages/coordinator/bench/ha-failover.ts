// Failover time of a highly available coordinator, for the `ha` benchmark section: a real etcd,
// three coordinator processes (dist/bin.js) and a worker heartbeating through a leader-following
// client (test/helpers/following-client.ts: it follows `strata-leader`, else tries the next
// address with capped backoff, as proto/README.md asks of clients). Each trial kill -9s the
// leader at a random moment and measures the time from the kill to the first heartbeat answered
// by another coordinator (only a leader answers), then restarts the killed one on its old ports
// as a follower, so every trial starts from three coordinators.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { FollowingClient } from "../test/helpers/following-client.js";
import {
  type HaCoordinatorProcess,
  startBenchEtcd,
  startHaCoordinatorProcess,
  stopProcess,
  waitForLeader,
} from "./ha-cluster.js";

/** Options for {@link measureFailover}. */
export interface FailoverOptions {
  /** The built CLI, `packages/coordinator/dist/bin.js`. */
  bin: string;
  /** How many leaders to kill. */
  trials: number;
  /** Leader lease TTL, in seconds (`--leader-lease-ttl-s`). */
  leaseTtlS: number;
  /** Pause between two heartbeats of the worker, in ms: the resolution of the measurement. */
  heartbeatEveryMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Per trial, in ms from the leader's kill. */
export interface FailoverTrial {
  /**
   * Until another coordinator serves as leader (its `/api/status` says so once it has loaded the
   * state and bound its full service; polled every 50 ms).
   */
  electedMs: number;
  /**
   * Until the worker's first heartbeat answered by the new leader: the above plus the client's
   * own retry backoff (50 ms doubling up to 500 ms).
   */
  firstRpcMs: number;
}

/** Kills the leader `trials` times; see the file's header. */
export async function measureFailover(options: FailoverOptions): Promise<FailoverTrial[]> {
  const log = options.log ?? (() => undefined);
  const everyMs = options.heartbeatEveryMs ?? 20;
  const etcd = await startBenchEtcd("strata-bench-ha-");
  const coordinators: HaCoordinatorProcess[] = [];
  const start = (i: number, ports?: { grpc: number; http: number }) =>
    startHaCoordinatorProcess({
      bin: options.bin,
      dataDir: join(etcd.dir, `coordinator-${i}`),
      etcdEndpoint: etcd.etcd.endpoint,
      leaseTtlS: options.leaseTtlS,
      ...(ports === undefined ? {} : { grpcPort: ports.grpc, httpPort: ports.http }),
      args: ["--heartbeat-timeout-ms", "15000"],
    });
  let client: FollowingClient | undefined;
  let running = true;
  let loop: Promise<void> = Promise.resolve();
  try {
    for (let i = 0; i < 3; i++) coordinators.push(await start(i));
    await waitForLeader(coordinators);
    const worker = new FollowingClient(coordinators.map((c) => c.grpc));
    client = worker;
    await worker.registerWorker("ha-bench-worker");

    // The worker: a heartbeat every `everyMs`; each call retries (following the leader) until it
    // is answered. Records when each answer came and from which coordinator.
    let answered: { at: number; by: string } = { at: 0, by: "" };
    let failure: unknown;
    const waiters = new Set<() => void>();
    loop = (async () => {
      while (running) {
        try {
          await worker.heartbeat("ha-bench-worker");
          answered = { at: performance.now(), by: worker.answeredBy.at(-1) ?? "" };
          worker.answeredBy.length = 0;
          for (const wake of waiters) wake();
        } catch (error) {
          failure = error;
          for (const wake of waiters) wake();
          return;
        }
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    const answeredBy = (predicate: (a: { at: number; by: string }) => boolean, timeoutMs: number) =>
      new Promise<{ at: number; by: string }>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no heartbeat answered as expected within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          if (failure !== undefined) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(failure);
          } else if (predicate(answered)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(answered);
          }
        };
        waiters.add(check);
        check();
      });

    const results: FailoverTrial[] = [];
    for (let trial = 1; trial <= options.trials; trial++) {
      const leader = await waitForLeader(coordinators);
      // The worker is on the leader, and the kill lands at a random point of the lease's renewal
      // cycle (renewed every TTL/3).
      const settled = performance.now();
      await answeredBy((a) => a.by === leader.grpc && a.at > settled, 10_000);
      await new Promise((r) => setTimeout(r, Math.random() * options.leaseTtlS * 1_000));
      const killedAt = performance.now();
      leader.child.kill("SIGKILL");
      const survivors = coordinators.filter((c) => c !== leader);
      const elected = waitForLeader(survivors).then(() => performance.now() - killedAt);
      const next = await answeredBy((a) => a.at > killedAt && a.by !== leader.grpc, 30_000);
      const trialResult = { electedMs: await elected, firstRpcMs: next.at - killedAt };
      results.push(trialResult);
      log(
        `  trial ${String(trial).padStart(2)}: new leader ${next.by} elected after ${Math.round(trialResult.electedMs)} ms, first worker RPC on it after ${Math.round(trialResult.firstRpcMs)} ms`,
      );
      await leader.exited;
      // Back to three: the killed one comes back on its old ports, as a follower.
      const index = coordinators.indexOf(leader);
      const port = (address: string) => Number(address.slice(address.lastIndexOf(":") + 1));
      coordinators[index] = await start(index, {
        grpc: port(leader.grpc),
        http: port(leader.http),
      });
    }
    return results;
  } finally {
    running = false;
    await Promise.race([loop, new Promise((r) => setTimeout(r, 5_000))]);
    client?.close();
    await Promise.all(coordinators.map((c) => stopProcess(c)));
    await etcd.stop();
  }
}
