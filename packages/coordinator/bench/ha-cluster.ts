// Processes for the `ha` benchmark section: a single-member etcd (Debian's etcd-server, started
// by the test helper) and coordinator processes (dist/bin.js, `--state etcd`) keeping their state
// in it. Every process is a real child process on loopback; the caller stops them.
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCoordinatorProcess } from "../src/testing/index.js";
import { type EtcdProcess, startEtcd } from "../test/helpers/etcd-process.js";

/** One coordinator of a highly available group, as a child process. */
export interface HaCoordinatorProcess {
  readonly child: ChildProcess;
  /** Bound gRPC `host:port` (the same after a restart). */
  readonly grpc: string;
  /** Bound HTTP `host:port` (the same after a restart). */
  readonly http: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
}

/** Options for {@link startHaCoordinatorProcess}. */
export interface HaCoordinatorOptions {
  /** The built CLI, `packages/coordinator/dist/bin.js`. */
  bin: string;
  /** Its own data directory (history; one coordinator per directory). */
  dataDir: string;
  etcdEndpoint: string;
  /** Leader lease TTL, in seconds (`--leader-lease-ttl-s`). */
  leaseTtlS: number;
  /** gRPC and HTTP ports; 0 (default) picks free ones. A restart passes the old ones. */
  grpcPort?: number;
  httpPort?: number;
  /** More flags (`--heartbeat-timeout-ms`, `--rate-limit-rps`, ...). */
  args?: readonly string[];
}

/**
 * Starts `node dist/bin.js --state etcd` on 127.0.0.1 and resolves once it printed its
 * `listening` line (it then serves as a follower until elected; see {@link waitForLeader}).
 */
export function startHaCoordinatorProcess(
  options: HaCoordinatorOptions,
): Promise<HaCoordinatorProcess> {
  mkdirSync(options.dataDir, { recursive: true });
  return startCoordinatorProcess({
    command: [process.execPath, options.bin],
    grpcAddr: `127.0.0.1:${options.grpcPort ?? 0}`,
    httpAddr: `127.0.0.1:${options.httpPort ?? 0}`,
    dataDir: options.dataDir,
    args: [
      "--state",
      "etcd",
      "--etcd-endpoints",
      options.etcdEndpoint,
      "--leader-lease-ttl-s",
      String(options.leaseTtlS),
      "--log-level",
      "warn",
      ...(options.args ?? []),
    ],
    startTimeoutMs: 15_000,
  }).then((started) => ({
    child: started.child,
    grpc: started.grpc,
    http: started.http,
    exited: started.exited.then(() => undefined),
  }));
}

/** Kills a coordinator (SIGKILL unless told) and waits for the exit. */
export async function stopProcess(
  coordinator: HaCoordinatorProcess,
  signal: NodeJS.Signals = "SIGKILL",
): Promise<void> {
  if (coordinator.child.exitCode === null && coordinator.child.signalCode === null) {
    coordinator.child.kill(signal);
  }
  await coordinator.exited;
}

/** The role a coordinator reports on `/api/status`, undefined when it does not answer. */
export async function roleOf(http: string): Promise<string | undefined> {
  try {
    const response = await fetch(`http://${http}/api/status`, {
      signal: AbortSignal.timeout(1_000),
    });
    return ((await response.json()) as { role?: string }).role;
  } catch {
    return undefined;
  }
}

/** Waits until exactly one of `candidates` says it leads, and returns it. */
export async function waitForLeader<T extends { http: string }>(
  candidates: readonly T[],
  timeoutMs = 30_000,
): Promise<T> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const roles = await Promise.all(candidates.map((c) => roleOf(c.http)));
    const leaders = candidates.filter((_, i) => roles[i] === "leader");
    if (leaders.length === 1) return leaders[0] as T;
    if (leaders.length > 1) throw new Error(`two coordinators say they lead: ${roles.join(", ")}`);
    if (performance.now() > until) {
      throw new Error(`no leader within ${timeoutMs} ms (roles: ${roles.join(", ")})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A temporary folder with an etcd in it. `stop()` ends etcd and removes the folder. */
export interface BenchEtcd {
  readonly dir: string;
  readonly etcd: EtcdProcess;
  stop(): Promise<void>;
}

/** Starts a single-member etcd on free loopback ports, its data in a new temporary folder. */
export async function startBenchEtcd(prefix: string): Promise<BenchEtcd> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const etcd = await startEtcd(dir);
    return {
      dir,
      etcd,
      async stop() {
        await etcd.stop("SIGKILL");
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * One coordinator on the etcd store (its own etcd), leading, for the throughput comparison with
 * the SQLite store: the same flags as the SQLite peer plus `--state etcd`.
 */
export async function startEtcdStoreCoordinator(
  bin: string,
  args: readonly string[],
): Promise<{ name: string; pid: number; address: string; stop(): Promise<void> }> {
  const cluster = await startBenchEtcd("strata-bench-etcd-store-");
  let coordinator: HaCoordinatorProcess | undefined;
  try {
    coordinator = await startHaCoordinatorProcess({
      bin,
      dataDir: join(cluster.dir, "coordinator"),
      etcdEndpoint: cluster.etcd.endpoint,
      leaseTtlS: 5,
      args,
    });
    await waitForLeader([coordinator]);
  } catch (error) {
    if (coordinator !== undefined) await stopProcess(coordinator);
    await cluster.stop();
    throw error;
  }
  const running = coordinator;
  return {
    name: "strata coordinator (etcd store)",
    pid: running.child.pid as number,
    address: running.grpc,
    async stop() {
      await stopProcess(running, "SIGTERM");
      await cluster.stop();
    },
  };
}
