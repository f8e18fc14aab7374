import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createStorage } from "@strata/storage";
import { parse } from "yaml";
import { parseWorkerConfig, WORKER_OPTIONS } from "../src/worker-cli/worker-cli.js";
import {
  COORDINATOR_BIN,
  makeTempDir,
  removeDir,
  startCoordinator,
} from "./helpers/coordinator-process.js";

// There is no Docker engine on this machine, so the compose file and the Dockerfile are checked
// statically and against the code: every build context, target, command, port, volume and
// environment variable they name must exist and be read by the programs, and the values must
// be accepted by them.
const root = join(__dirname, "..", "..", "..");

interface Service {
  image?: string;
  build?: { context: string; target?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

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
const workers = ours.filter(([, s]) => s.build?.target === "worker").map(([n]) => n);

describe("docker-compose.yml", () => {
  test("runs the coordinator, MinIO (with its bucket) and 4 workers", () => {
    expect(Object.keys(compose.services).sort()).toEqual(
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
        const known =
          name === "coordinator"
            ? coordinatorEnv.has(key) || key === "NODE_ENV"
            : workers.includes(name)
              ? WORKER_ENV.has(key) || AWS_ENV.has(key) || key === "NODE_ENV"
              : MINIO_ENV.has(key);
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
