import { join } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { type EtcdProcess, startEtcd } from "../helpers/etcd-process.js";
import { connect, grpcError } from "../helpers/grpc-clients.js";

// With a token, a follower asks for it as the leader does: it tells who leads, and where, only
// to callers that may talk to the leader; the probes stay public.
const TOKEN = "follower-auth-test-token-0123456789";
const bearer = { authorization: `Bearer ${TOKEN}` };

jest.setTimeout(90_000);

async function roleOf(c: CoordinatorProcess): Promise<string | undefined> {
  try {
    const response = await fetch(`http://${c.http}/api/status`, {
      headers: bearer,
      signal: AbortSignal.timeout(1_000),
    });
    return ((await response.json()) as { role?: string }).role;
  } catch {
    return undefined;
  }
}

test("a follower of a cluster with a token: probes public, status and RPCs need the token, the leader hint only with it", async () => {
  const dir = makeTempDir("strata-follower-auth-");
  let etcd: EtcdProcess | undefined;
  const coordinators: CoordinatorProcess[] = [];
  try {
    etcd = await startEtcd(dir);
    for (let i = 0; i < 2; i++) {
      coordinators.push(
        await startCoordinatorProcess(
          join(dir, `c${i}`),
          ["--state", "etcd", "--etcd-endpoints", etcd.endpoint],
          { STRATA_AUTH_TOKEN: TOKEN },
        ),
      );
    }
    let roles: (string | undefined)[] = [];
    for (let i = 0; i < 200; i++) {
      roles = await Promise.all(coordinators.map(roleOf));
      if (roles.includes("leader") && roles.includes("follower")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const leader = coordinators[roles.indexOf("leader")] as CoordinatorProcess;
    const follower = coordinators[roles.indexOf("follower")] as CoordinatorProcess;
    expect(follower).toBeDefined();

    const http = (path: string, headers: Record<string, string> = {}) =>
      fetch(`http://${follower.http}${path}`, { headers });
    expect((await http("/api/health")).status).toBe(200);
    const ready = await http("/api/ready");
    expect(ready.status).toBe(503);
    expect(ready.headers.get("strata-leader")).toBeNull();
    expect((await http("/api/status")).status).toBe(401);
    const workers = await http("/api/workers");
    expect(workers.status).toBe(401);
    expect(workers.headers.get("strata-leader")).toBeNull();
    expect((await http("/metrics")).status).toBe(401);
    const status = (await (await http("/api/status", bearer)).json()) as {
      auth: boolean;
      leader: { http_address: string } | null;
    };
    expect(status.auth).toBe(true);
    expect(status.leader?.http_address).toBe(leader.http);
    const authorized = await http("/api/workers", bearer);
    expect(authorized.status).toBe(503);
    expect(authorized.headers.get("strata-leader")).toBe(leader.http);

    const anonymous = connect(follower.grpc);
    const withToken = connect(follower.grpc, { token: TOKEN });
    try {
      const refused = await grpcError(anonymous.heartbeat({ workerId: "w" }));
      expect(refused.code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(refused.metadata.get("strata-leader")).toEqual([]);
      const redirected = await grpcError(withToken.heartbeat({ workerId: "w" }));
      expect(redirected.code).toBe(GrpcStatus.UNAVAILABLE);
      expect(redirected.metadata.get("strata-leader")).toEqual([leader.grpc]);
    } finally {
      anonymous.close();
      withToken.close();
    }
  } finally {
    for (const c of coordinators) await c.stop("SIGKILL");
    await etcd?.stop("SIGKILL");
    removeDir(dir);
  }
});
