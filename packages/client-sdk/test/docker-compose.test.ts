import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createStorage } from "@strata/storage";
import { parse } from "yaml";
import { createCoordinatorConnection } from "../src/index.js";
import { parseWorkerConfig, WORKER_OPTIONS } from "../src/worker-cli/worker-cli.js";
import {
  COORDINATOR_BIN,
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinator,
  waitFor,
} from "./helpers/coordinator-process.js";

// There is no Docker engine on this machine, so the compose file and the Dockerfile are checked
// statically and against the code: every build context, target, command, port, volume and
// environment variable they name must exist and be read by the programs, and the values must
// be accepted by them.
const root = join(__dirname, "..", "..", "..");

interface Service {
  image?: string;
  profiles?: string[];
  build?: { context: string; target?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

/** Services of the default stack (no profile) and of the `ha` profile. */
const inProfile = (profile: string | undefined) =>
  Object.entries(compose.services)
    .filter(([, s]) =>
      profile === undefined ? s.profiles === undefined : s.profiles?.includes(profile),
    )
    .map(([name]) => name);

const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** The Dockerfile's stages, each with its instructions (continuation lines joined). */
function stages(): Stage[] {
  const joined = dockerfile.replace(/\\\n\s*/g, " ");
  const out: Stage[] = [];
  for (const line of joined.split("\n").map((l) => l.trim())) {
    if (line === "" || line.startsWith("#")) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      out.push({ name: from[2] ?? "", from: from[1] as string, lines: [] });
      continue;
    }
    out.at(-1)?.lines.push(line);
  }
  return out;
}

/** A stage and its ancestors' instructions, oldest first. */
function chain(name: string): string[] {
  const all = stages();
  const stage = all.find((s) => s.name === name);
  if (stage === undefined) throw new Error(`Dockerfile has no stage ${name}`);
  const parent = all.find((s) => s.name === stage.from);
  return [...(parent ? chain(parent.name) : []), ...stage.lines];
}

/** ENV of a stage (with its ancestors). */
function stageEnv(name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of chain(name)) {
    const m = /^ENV\s+(.*)$/i.exec(line);
    if (!m) continue;
    for (const pair of (m[1] as string).trim().split(/\s+/)) {
      const [k, ...v] = pair.split("=");
      env[k as string] = v.join("=");
    }
  }
  return env;
}

/** The environment variables the coordinator reads: the `[STRATA_…]` names in its --help. */
function coordinatorEnvNames(): Set<string> {
  const help = execFileSync(process.execPath, [COORDINATOR_BIN, "--help"], { encoding: "utf8" });
  return new Set([...help.matchAll(/\[(STRATA_[A-Z_]+)\]/g)].map((m) => m[1] as string));
}

const WORKER_ENV = new Set(WORKER_OPTIONS.map((o) => o.env));
/** Read by the AWS SDK behind `@strata/storage`'s S3 backend (standard names). */
const AWS_ENV = new Set(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]);
/** Read by the MinIO server and client images (documented by MinIO). */
const MINIO_ENV = new Set(["MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"]);

/** `${NAME:-default}` → default (what compose substitutes when NAME is unset). */
function substitute(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");
}

function serviceEnv(name: string): Record<string, string> {
  const service = compose.services[name] as Service;
  const image = service.build?.target === undefined ? {} : stageEnv(service.build.target);
  const own = Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, substitute(String(v))]),
  );
  return { ...image, ...own };
}

const ours = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
const byTarget = (target: string, profile: string | undefined) =>
  ours
    .filter(([n, s]) => s.build?.target === target && inProfile(profile).includes(n))
    .map(([n]) => n);
/** The default stack's workers; the `ha` profile's are checked in their own block below. */
const workers = byTarget("worker", undefined);
const haWorkers = byTarget("worker", "ha");
const haCoordinators = byTarget("coordinator", "ha");
const etcds = inProfile("ha").filter((n) =>
  compose.services[n]?.image?.startsWith("quay.io/coreos/etcd:"),
);

describe("docker-compose.yml", () => {
  test("runs the coordinator, MinIO (with its bucket) and 4 workers", () => {
    // Without a profile (`docker compose up`); the `ha` profile adds its own services.
    expect(inProfile(undefined).sort()).toEqual(
      [
        "coordinator",
        "minio",
        "minio-setup",
        "worker-1",
        "worker-2",
        "worker-3",
        "worker-4",
      ].sort(),
    );
    expect(workers).toHaveLength(4);
    expect(new Set(workers.map((w) => serviceEnv(w).STRATA_WORKER_ID)).size).toBe(4);
  });

  test("every build context, Dockerfile and target exists; images run as non-root with a health check", () => {
    for (const [name, service] of ours) {
      const build = service.build as NonNullable<Service["build"]>;
      const context = join(root, build.context);
      expect(statSync(context).isDirectory()).toBe(true);
      expect(existsSync(join(context, build.dockerfile ?? "Dockerfile"))).toBe(true);
      const target = build.target as string;
      const lines = chain(target);
      const users = lines.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
      expect({ name, user: users.at(-1) }).toEqual({ name, user: "node" });
      expect(lines.some((l) => /^HEALTHCHECK\s/i.test(l))).toBe(true);
    }
    // The default target (the last stage) is the coordinator, as `docker build .` promises.
    expect(stages().at(-1)?.name).toBe("coordinator");
  });

  test("every command in the images names a file the build produces", () => {
    for (const target of ["coordinator", "worker"]) {
      const cmd = chain(target)
        .filter((l) => /^CMD\s/i.test(l))
        .at(-1) as string;
      const argv = JSON.parse(cmd.replace(/^CMD\s+/i, "")) as string[];
      expect(argv[0]).toBe("node");
      // Tests run after `pnpm build`, which is what the image's build stage runs.
      expect(existsSync(join(root, argv[1] as string))).toBe(true);
    }
    const healthFile = stageEnv("worker").STRATA_WORKER_HEALTH_FILE;
    expect(chain("worker").find((l) => l.startsWith("HEALTHCHECK"))).toContain(healthFile);
    // The build context keeps local installs and builds out; the image makes its own.
    const ignore = readFileSync(join(root, ".dockerignore"), "utf8");
    for (const pattern of ["**/node_modules", "**/dist", ".git"]) expect(ignore).toContain(pattern);
  });

  test("every environment variable is read by the program it is given to", () => {
    const coordinatorEnv = coordinatorEnvNames();
    for (const [name, service] of Object.entries(compose.services)) {
      const env = service.build ? serviceEnv(name) : (service.environment ?? {});
      for (const key of Object.keys(env)) {
        const target = service.build?.target;
        const known =
          target === "coordinator"
            ? coordinatorEnv.has(key) || key === "NODE_ENV"
            : target === "worker"
              ? WORKER_ENV.has(key) || AWS_ENV.has(key) || key === "NODE_ENV"
              : service.image?.startsWith("minio/")
                ? MINIO_ENV.has(key)
                : false; // etcd takes flags only
        expect({ service: name, key, known }).toEqual({ service: name, key, known: true });
      }
    }
  });

  test("ports, volumes and dependencies line up with the configuration", () => {
    const coordinator = serviceEnv("coordinator");
    const published = (compose.services.coordinator?.ports ?? []).map((p) =>
      Number(p.split(":")[1]),
    );
    for (const key of ["STRATA_GRPC_ADDR", "STRATA_HTTP_ADDR"]) {
      const address = coordinator[key] as string;
      expect(address.startsWith("0.0.0.0:")).toBe(true); // reachable from other containers
      expect(published).toContain(Number(address.split(":")[1]));
    }
    const dockerExpose = chain("coordinator").find((l) => l.startsWith("EXPOSE")) as string;
    for (const port of published) expect(dockerExpose).toContain(String(port));
    // MinIO: the API (9000) and the console (--console-address :9001).
    const minio = compose.services.minio as Service;
    expect(minio.ports).toEqual(["9000:9000", "9001:9001"]);
    expect(String(minio.command)).toContain("--console-address :9001");

    const declared = Object.keys(compose.volumes);
    const mounts: Record<string, string> = {};
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const [source, target] = volume.split(":") as [string, string];
        expect(declared).toContain(source);
        mounts[name] = target;
      }
    }
    expect(mounts.coordinator).toBe(coordinator.STRATA_DATA_DIR);
    for (const w of workers) expect(mounts[w]).toBe(serviceEnv(w).STRATA_WORKER_DATA_DIR);
    expect(String(minio.command)).toContain(`server ${mounts.minio}`);

    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = compose.services[dependency];
        expect({ name, dependency, exists: target !== undefined }).toEqual({
          name,
          dependency,
          exists: true,
        });
        if (condition === "service_healthy") {
          const hasCheck =
            target?.healthcheck !== undefined ||
            (target?.build?.target !== undefined &&
              chain(target.build.target).some((l) => l.startsWith("HEALTHCHECK")));
          expect({ dependency, hasCheck }).toEqual({ dependency, hasCheck: true });
        }
      }
    }
    // Workers reach the coordinator by service name and checkpoints go to the bucket minio-setup makes.
    const bucket = /mc mb --ignore-existing local\/(\S+)/.exec(
      String(compose.services["minio-setup"]?.command),
    )?.[1];
    for (const w of workers) {
      const env = serviceEnv(w);
      expect(env.STRATA_COORDINATOR).toBe(
        `coordinator:${coordinator.STRATA_GRPC_ADDR?.split(":")[1]}`,
      );
      expect(env.STRATA_CHECKPOINT_STORAGE?.startsWith(`s3://${bucket}/`)).toBe(true);
      expect(env.STRATA_CHECKPOINT_STORAGE).toContain("endpoint=http://minio:9000");
    }
  });

  test("the workers' settings are accepted by strata-worker and the storage URI opens", async () => {
    for (const w of workers) {
      const env = serviceEnv(w);
      const { config } = parseWorkerConfig([], env);
      expect(config.workerId).toBe(env.STRATA_WORKER_ID);
      expect(config.epochs).toBe(0);
      const storage = await createStorage(config.storage, { env });
      expect(storage.uri.startsWith("s3://strata-checkpoints")).toBe(true);
      await storage.close();
    }
  });

  test("the coordinator starts with the compose settings (addresses and data dir moved to this machine)", async () => {
    const env = serviceEnv("coordinator");
    const dir = makeTempDir("strata-compose-");
    try {
      const { STRATA_GRPC_ADDR: _g, STRATA_HTTP_ADDR: _h, STRATA_DATA_DIR: _d, ...rest } = env;
      const coordinator = await startCoordinator(dir, { env: rest });
      const health = await fetch(`http://${coordinator.http}/api/health`);
      expect(health.status).toBe(200);
      expect(await coordinator.stop()).toBe(0);
    } finally {
      removeDir(dir);
    }
  });
});

describe("docker-compose.yml, profile ha", () => {
  const service = (name: string) => compose.services[name] as Service;
  const portOf = (address: string) => Number(address.slice(address.lastIndexOf(":") + 1));
  /** An etcd member's `--flag=value` command line as a map. */
  const flagsOf = (name: string) =>
    new Map(
      (service(name).command as string[]).map((arg) => {
        const [flag, ...value] = arg.split("=");
        return [flag as string, value.join("=")];
      }),
    );
  const clientPort = (name: string) => portOf(flagsOf(name).get("--listen-client-urls") as string);
  const peerPort = (name: string) => portOf(flagsOf(name).get("--listen-peer-urls") as string);

  function etcdHelp(): string {
    try {
      return execFileSync("etcd", ["--help"], { encoding: "utf8" });
    } catch {
      throw new Error(
        "etcd is not installed: install Debian's etcd-server (bash scripts/install-test-deps.sh)",
      );
    }
  }

  test("3 etcd members, 3 coordinators and 2 workers, only in the profile; the default stack needs none", () => {
    expect(etcds.sort()).toEqual(["etcd-1", "etcd-2", "etcd-3"]);
    expect(haCoordinators.sort()).toEqual([
      "coordinator-ha-1",
      "coordinator-ha-2",
      "coordinator-ha-3",
    ]);
    expect(haWorkers.sort()).toEqual(["worker-ha-1", "worker-ha-2"]);
    expect(inProfile("ha").sort()).toEqual([...etcds, ...haCoordinators, ...haWorkers].sort());
    for (const [name, s] of Object.entries(compose.services)) {
      expect({ name, profiles: s.profiles ?? [] }).toEqual({
        name,
        profiles: inProfile("ha").includes(name) ? ["ha"] : [],
      });
    }
    for (const name of inProfile(undefined)) {
      for (const dependency of Object.keys(service(name).depends_on ?? {})) {
        expect({ name, dependency, ha: inProfile("ha").includes(dependency) }).toEqual({
          name,
          dependency,
          ha: false,
        });
      }
    }
    const ids = [...workers, ...haWorkers].map((w) => serviceEnv(w).STRATA_WORKER_ID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("the etcd members' flags describe one cluster: names, URLs and ports match the services", () => {
    const help = etcdHelp();
    const clusters = new Set<string>();
    const tokens = new Set<string>();
    for (const name of etcds) {
      const s = service(name);
      expect(s.image).toMatch(/^quay\.io\/coreos\/etcd:v3\.5\.\d+$/);
      expect(s.entrypoint).toEqual(["/usr/local/bin/etcd"]);
      const flags = flagsOf(name);
      for (const flag of flags.keys()) {
        expect({ flag, known: help.includes(`\n  ${flag} `) }).toEqual({ flag, known: true });
      }
      const client = clientPort(name);
      const peer = peerPort(name);
      expect(flags.get("--name")).toBe(name);
      expect(flags.get("--listen-client-urls")).toBe(`http://0.0.0.0:${client}`);
      expect(flags.get("--advertise-client-urls")).toBe(`http://${name}:${client}`);
      expect(flags.get("--listen-peer-urls")).toBe(`http://0.0.0.0:${peer}`);
      expect(flags.get("--initial-advertise-peer-urls")).toBe(`http://${name}:${peer}`);
      expect(flags.get("--initial-cluster-state")).toBe("new");
      clusters.add(flags.get("--initial-cluster") as string);
      tokens.add(flags.get("--initial-cluster-token") as string);
      // Its data is on its own volume; its health check asks its own client port.
      const [volume, target] = (s.volumes?.[0] ?? "").split(":");
      expect(volume).toBe(`${name}-data`);
      expect(flags.get("--data-dir")).toBe(target);
      expect(s.healthcheck?.test).toEqual([
        "CMD",
        "/usr/local/bin/etcdctl",
        `--endpoints=http://127.0.0.1:${client}`,
        "endpoint",
        "health",
      ]);
    }
    // One cluster: the same member list (every service, at its peer URL) and token everywhere.
    expect(clusters.size).toBe(1);
    expect(tokens.size).toBe(1);
    expect([...clusters][0]?.split(",")).toEqual(
      etcds.map((n) => `${n}=http://${n}:${peerPort(n)}`),
    );
  });

  test("the coordinators keep their state on every member, advertise their own names, and publish ports that clash with nothing", () => {
    const hostPorts: number[] = [];
    for (const s of Object.values(compose.services)) {
      for (const p of s.ports ?? []) hostPorts.push(Number(p.split(":")[0]));
    }
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const name of haCoordinators) {
      const env = serviceEnv(name);
      const s = service(name);
      expect(env.STRATA_STATE).toBe("etcd");
      expect(env.STRATA_ETCD_ENDPOINTS?.split(",")).toEqual(
        etcds.map((e) => `${e}:${clientPort(e)}`),
      );
      const grpc = env.STRATA_GRPC_ADDR as string;
      const http = env.STRATA_HTTP_ADDR as string;
      expect(grpc.startsWith("0.0.0.0:")).toBe(true);
      expect(http.startsWith("0.0.0.0:")).toBe(true);
      expect(env.STRATA_ADVERTISE_GRPC_ADDR).toBe(`${name}:${portOf(grpc)}`);
      expect(env.STRATA_ADVERTISE_HTTP_ADDR).toBe(`${name}:${portOf(http)}`);
      const published = (s.ports ?? []).map((p) => Number(p.split(":")[1]));
      expect(published.sort()).toEqual([portOf(grpc), portOf(http)].sort());
      expect(Number(env.STRATA_LEADER_LEASE_TTL_S)).toBeGreaterThanOrEqual(2);
      // It starts once every member is healthy, and a leader that exits comes back as a follower.
      expect(s.depends_on).toEqual(
        Object.fromEntries(etcds.map((e) => [e, { condition: "service_healthy" }])),
      );
      expect((s as { restart?: string }).restart).toBe("unless-stopped");
      const [volume, target] = (s.volumes?.[0] ?? "").split(":");
      expect(volume).toBe(`${name}-data`);
      expect(target).toBe(env.STRATA_DATA_DIR);
    }
  });

  test("the workers are given every coordinator, and strata-worker accepts them", async () => {
    const advertised = haCoordinators.map((c) => serviceEnv(c).STRATA_ADVERTISE_GRPC_ADDR);
    for (const w of haWorkers) {
      const env = serviceEnv(w);
      expect(env.STRATA_COORDINATOR?.split(",")).toEqual(advertised);
      const { config } = parseWorkerConfig([], env);
      expect(config.coordinator).toEqual(advertised);
      expect(config.workerId).toBe(env.STRATA_WORKER_ID);
      expect(service(w).depends_on).toEqual({
        ...Object.fromEntries(haCoordinators.map((c) => [c, { condition: "service_healthy" }])),
        "minio-setup": { condition: "service_completed_successfully" },
      });
      const storage = await createStorage(config.storage, { env });
      expect(storage.uri.startsWith("s3://strata-checkpoints/strata-ha-demo")).toBe(true);
      await storage.close();
    }
  });

  test("the members and coordinators started with these settings (moved to loopback) form one cluster with one leader, which a worker given every address reaches", async () => {
    const dir = makeTempDir("strata-compose-ha-");
    const etcdChildren: ChildProcess[] = [];
    const coordinators: CoordinatorProcess[] = [];
    const connection = { close: () => undefined } as { close(): void };
    try {
      // Every member gets free loopback ports for its client and peer URLs; service names and
      // 0.0.0.0 become 127.0.0.1 with those ports.
      const ports = new Map<string, Map<number, number>>();
      for (const e of etcds) {
        ports.set(
          e,
          new Map([
            [clientPort(e), await freePort()],
            [peerPort(e), await freePort()],
          ]),
        );
      }
      const local = (self: string, value: string) =>
        value
          .replace(
            /http:\/\/0\.0\.0\.0:(\d+)/g,
            (_, port: string) => `http://127.0.0.1:${ports.get(self)?.get(Number(port))}`,
          )
          .replace(
            /http:\/\/(etcd-\d+):(\d+)/g,
            (_, host: string, port: string) =>
              `http://127.0.0.1:${ports.get(host)?.get(Number(port))}`,
          );
      for (const e of etcds) {
        const args = [...flagsOf(e)].map(([flag, value]) =>
          flag === "--data-dir" ? `${flag}=${join(dir, e)}` : `${flag}=${local(e, value)}`,
        );
        etcdChildren.push(
          spawn("etcd", [...args, "--log-level=error", "--logger=zap"], { stdio: "ignore" }),
        );
      }
      const endpoints = etcds.map((e) => `127.0.0.1:${ports.get(e)?.get(clientPort(e))}`);
      await waitFor(
        "the three etcd members to form a healthy cluster",
        async () => {
          const healthy = await Promise.all(
            endpoints.map((ep) =>
              fetch(`http://${ep}/health`)
                .then((r) => r.json() as Promise<{ health?: string }>)
                .then((b) => b.health === "true")
                .catch(() => false),
            ),
          );
          return healthy.every(Boolean);
        },
        30_000,
      );

      for (const c of haCoordinators) {
        const {
          STRATA_GRPC_ADDR: _g,
          STRATA_HTTP_ADDR: _h,
          STRATA_DATA_DIR: _d,
          STRATA_ADVERTISE_GRPC_ADDR: _ag,
          STRATA_ADVERTISE_HTTP_ADDR: _ah,
          ...env
        } = serviceEnv(c);
        env.STRATA_ETCD_ENDPOINTS = (env.STRATA_ETCD_ENDPOINTS as string)
          .split(",")
          .map((ep) => {
            const [host, port] = ep.split(":");
            return `127.0.0.1:${ports.get(host as string)?.get(Number(port))}`;
          })
          .join(",");
        expect(env.STRATA_ETCD_ENDPOINTS.split(",")).toEqual(endpoints);
        coordinators.push(await startCoordinator(join(dir, c), { env }));
      }
      const statuses = async () =>
        Promise.all(
          coordinators.map((c) =>
            fetch(`http://${c.http}/api/status`)
              .then(
                (r) =>
                  r.json() as Promise<{ role: string; leader: { grpc_address: string } | null }>,
              )
              .catch(() => ({ role: "down", leader: null })),
          ),
        );
      await waitFor(
        "one coordinator to lead",
        async () => (await statuses()).some((s) => s.role === "leader"),
        20_000,
      );
      const seen = await statuses();
      expect(seen.map((s) => s.role).sort()).toEqual(["follower", "follower", "leader"]);
      const leader = coordinators[seen.findIndex((s) => s.role === "leader")] as CoordinatorProcess;
      await waitFor("the followers to name the leader", async () =>
        (await statuses()).every((s) => s.leader?.grpc_address === leader.grpc),
      );

      // A worker given every address (a follower first) ends up on the leader.
      const follower = coordinators.find((c) => c !== leader) as CoordinatorProcess;
      const sdk = createCoordinatorConnection({
        addresses: [
          follower.grpc,
          ...coordinators.filter((c) => c !== follower).map((c) => c.grpc),
        ],
        reconnectTimeoutMs: 10_000,
      });
      connection.close = () => sdk.close();
      const registered = await sdk.unary("registerWorker", {
        workerId: "worker-ha-1",
        hostname: "compose-test",
        port: 0,
        gpuCount: 0,
        memoryBytes: 0n,
        metadata: {},
      });
      expect(registered.rank).toBe(0);
      expect(sdk.address).toBe(leader.grpc);
    } finally {
      connection.close();
      for (const c of coordinators) await c.stop("SIGKILL");
      await Promise.all(
        etcdChildren.map(
          (child) =>
            new Promise((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
              child.once("exit", resolve);
              child.kill("SIGKILL");
            }),
        ),
      );
      removeDir(dir);
    }
  }, 90_000);
});

/** A loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
