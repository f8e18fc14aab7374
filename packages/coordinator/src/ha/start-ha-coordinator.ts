import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Logger } from "@strata/runtime-core";
import { Code, RuntimeError } from "@strata/runtime-core";
import type { CoordinatorConfig } from "../config.js";
import { COORDINATOR_VERSION } from "../http/http-api.js";
import { type RunningCoordinator, startCoordinator } from "../start-coordinator.js";
import { checkStartup } from "../startup-checks.js";
import { lockDataDir } from "../store/data-dir-lock.js";
import { createEtcdStore } from "../store/etcd-store.js";
import { connectEtcd } from "./etcd-client.js";
import { type FollowerServers, startFollowerServers } from "./follower-servers.js";
import { type CoordinatorIdentity, Leadership } from "./leadership.js";

/** Options for {@link startHaCoordinator}. */
export interface StartHaCoordinatorOptions {
  logger: Logger;
  /**
   * Called once when this coordinator cannot go on: it lost its leadership (lease expired, cut
   * off from etcd) or its store kept failing. The CLI exits non-zero; a supervisor restarts it
   * as a follower. Never called twice.
   */
  onFatal: (error: RuntimeError) => void;
}

/** A coordinator of a highly available group (state in etcd). */
export interface RunningHaCoordinator {
  /** Bound addresses; the same whether it follows or leads. */
  readonly grpcAddress: string;
  readonly httpAddress: string;
  /** `follower` until elected, then `leader`. */
  role(): "follower" | "leader";
  readonly identity: CoordinatorIdentity;
  /** The serving coordinator while it leads. */
  coordinator(): RunningCoordinator | undefined;
  /** Resigns (a follower takes over at once), stops serving, closes etcd. Idempotent. */
  close(): Promise<void>;
}

const WILDCARD = /^(0\.0\.0\.0|\[::\]|::)$/;

/** `0.0.0.0:50051` → `<host name>:50051`: an address other machines can dial. */
function advertised(bound: string): string {
  const i = bound.lastIndexOf(":");
  const host = bound.slice(0, i);
  return WILDCARD.test(host) ? `${hostname()}:${bound.slice(i + 1)}` : bound;
}

/**
 * Starts one coordinator of a highly available group: the cluster state lives in etcd, the
 * coordinators elect a leader through etcd (see `Leadership`), and the others follow (answering
 * every call with the leader's address). When this one is elected it binds its full gRPC and
 * HTTP side on the same ports, loads the state from etcd and gives every worker a grace period
 * of one heartbeat timeout before the failure detector may declare it dead. A leader that loses
 * its lease stops serving at once and reports `onFatal` (so it restarts as a follower).
 */
export async function startHaCoordinator(
  config: CoordinatorConfig,
  options: StartHaCoordinatorOptions,
): Promise<RunningHaCoordinator> {
  const { logger } = options;
  const { problems, tls } = checkStartup(config);
  if (problems.length > 0) {
    throw new RuntimeError(
      `cannot start:\n  - ${problems.map((p) => `${p.key}: ${p.message}`).join("\n  - ")}`,
      { code: Code.InvalidArgument },
    );
  }
  const dataDir = config.dataDir === ":memory:" ? undefined : resolve(config.dataDir);
  // The data directory keeps this coordinator's own history: one process per directory.
  const lock = dataDir === undefined ? undefined : lockDataDir(dataDir);
  const client = connectEtcd(config);
  let fatal = false;
  const fail = (error: RuntimeError) => {
    if (fatal) return;
    fatal = true;
    options.onFatal(error);
  };

  let follower: FollowerServers | undefined;
  let leadership: Leadership | undefined;
  try {
    // Bind first (as a follower), so the addresses are known before anyone can be told them.
    leadership = new Leadership({
      client,
      prefix: config.etcdPrefix,
      ttlSeconds: config.leaderLeaseTtlS,
      logger,
    });
    follower = await startFollowerServers({
      grpcAddr: config.grpcAddr,
      httpAddr: config.httpAddr,
      tls,
      leadership,
      startedAtMs: Date.now(),
      version: COORDINATOR_VERSION,
      logger,
      ...(config.authToken === undefined ? {} : { authToken: config.authToken }),
    });
    const identity: CoordinatorIdentity = {
      id: `${hostname()}:${process.pid}`,
      grpc: config.advertiseGrpcAddr ?? advertised(follower.grpcAddress),
      http: config.advertiseHttpAddr ?? advertised(follower.httpAddress),
    };
    const ha = leadership;
    const followerServers = follower;
    let coordinator: RunningCoordinator | undefined;
    let role: "follower" | "leader" = "follower";

    ha.onLost((reason) => fail(reason));
    ha.onElected(() => {
      void (async () => {
        try {
          await followerServers.close();
          const store = createEtcdStore({
            client,
            prefix: config.etcdPrefix,
            fence: () => ha.fence(),
            logger,
          });
          coordinator = await startCoordinator(
            {
              ...config,
              grpcAddr: followerServers.grpcAddress,
              httpAddr: followerServers.httpAddress,
            },
            {
              logger,
              store,
              leadership: ha,
              ...(dataDir === undefined ? {} : { historyDir: dataDir }),
              onFatal: fail,
            },
          );
          role = "leader";
          logger.info(
            { grpc: coordinator.grpcAddress, http: coordinator.httpAddress, id: identity.id },
            "leading: serving the cluster",
          );
        } catch (error) {
          fail(RuntimeError.from(error, Code.Unavailable));
        }
      })();
    });
    await ha.start(identity);

    let closing: Promise<void> | undefined;
    return {
      grpcAddress: follower.grpcAddress,
      httpAddress: follower.httpAddress,
      identity,
      role: () => role,
      coordinator: () => coordinator,
      close() {
        closing ??= (async () => {
          // Resign first: from here on this coordinator answers nothing as leader and its writes
          // are fenced off, so a follower can take over at once while in-flight calls drain
          // (up to shutdownGraceMs) instead of after the drain.
          await ha.close();
          await coordinator?.close().catch(() => undefined);
          await followerServers.close();
          client.close();
          lock?.release();
        })();
        return closing;
      },
    };
  } catch (error) {
    await follower?.close().catch(() => undefined);
    await leadership?.close().catch(() => undefined);
    client.close();
    lock?.release();
    throw error;
  }
}
