import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { loadCoordinatorConfig } from "../src/cli.js";
import {
  BIN,
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  runBin,
  startCoordinatorProcess,
} from "./helpers/coordinator-process.js";
import { type EtcdProcess, startEtcd } from "./helpers/etcd-process.js";

const { fencedBlocks } = require("../../../scripts/markdown-examples.cjs") as {
  fencedBlocks: (
    file: string,
    options: { lang: string },
  ) => { code: string; line: number; runnable: boolean; reason: string | undefined }[];
};

// There is no Kubernetes cluster here, so deploy/kubernetes/*.yaml are checked statically against
// the code (flags and environment the coordinator's --help lists, its configuration schema, the
// Dockerfile, etcd's own --help), and the probes they configure are sent to real coordinator
// processes started with the manifest's settings, as the kubelet would send them (no token).
const root = join(__dirname, "..", "..", "..");
const dir = join(root, "deploy", "kubernetes");

// Only the fields these checks read; the rest of each object is whatever Kubernetes accepts.
interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
  };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string }[];
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number };
  terminationGracePeriodSeconds?: number;
}
interface Workload {
  replicas: number;
  serviceName?: string;
  selector: { matchLabels: Record<string, string> };
  strategy?: { type: string; rollingUpdate?: { maxSurge?: string; maxUnavailable?: string } };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  volumeClaimTemplates?: { metadata: { name: string } }[];
}
interface ServiceSpec {
  clusterIP?: string;
  publishNotReadyAddresses?: boolean;
  selector: Record<string, string>;
  ports: { name: string; port: number; targetPort: string | number }[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: narrowed by kind below
  spec: any;
}

function load(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJS() as K8sObject;
  });
}

const etcdObjects = load("etcd.yaml");
const coordinatorObjects = load("coordinator.yaml");
const all = [...etcdObjects, ...coordinatorObjects];

function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  expect({ kind, name, count: found.length }).toEqual({ kind, name, count: 1 });
  return found[0] as K8sObject;
}

const deployment = find(coordinatorObjects, "Deployment");
const deploymentSpec = deployment.spec as Workload;
const coordinatorService = find(coordinatorObjects, "Service");
const coordinatorServiceSpec = coordinatorService.spec as ServiceSpec;
const statefulSet = find(etcdObjects, "StatefulSet");
const statefulSetSpec = statefulSet.spec as Workload;
const etcdService = find(etcdObjects, "Service");
const etcdServiceSpec = etcdService.spec as ServiceSpec;
const coordinator = deploymentSpec.template.spec.containers[0] as Container;
const etcd = statefulSetSpec.template.spec.containers[0] as Container;

/** Whether `selector` selects pods labelled `labels`. */
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** A container port by name or number. */
function containerPort(container: Container, port: string | number): number {
  if (typeof port === "number") return port;
  const found = container.ports?.find((p) => p.name === port);
  expect({ container: container.name, port, found: found !== undefined }).toEqual({
    container: container.name,
    port,
    found: true,
  });
  return (found as { containerPort: number }).containerPort;
}

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(":") + 1));

/**
 * The container's environment as Kubernetes would give it: `fieldRef: status.podIP` becomes
 * `podIp`, a Secret reference its value from `secrets`, and `$(NAME)` is replaced by a variable
 * defined earlier in the list (Kubernetes' own rule).
 */
function resolveEnv(
  container: Container,
  podIp: string,
  secrets: Record<string, Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    let value: string | undefined;
    if (variable.value !== undefined) {
      value = variable.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) =>
        name in env ? (env[name] as string) : whole,
      );
    } else if (variable.valueFrom?.fieldRef?.fieldPath === "status.podIP") {
      value = podIp;
    } else if (variable.valueFrom?.secretKeyRef !== undefined) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      value = secrets[name]?.[key];
    } else if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.name") {
      value = "pod-0";
    }
    expect({ name: variable.name, resolved: value !== undefined }).toEqual({
      name: variable.name,
      resolved: true,
    });
    env[variable.name] = value as string;
  }
  return env;
}

const TOKEN = randomBytes(24).toString("hex");
const secrets = { "strata-auth": { token: TOKEN } };

/** The coordinator's `--help`: its flags and the `[STRATA_…]` variables it reads. */
let help = "";
beforeAll(async () => {
  const result = await runBin(["--help"]);
  expect(result.code).toBe(0);
  help = result.stdout;
});
const helpEnv = () => new Set([...help.matchAll(/\[(STRATA_[A-Z0-9_]+)\]/g)].map((m) => m[1]));
const helpFlags = () =>
  new Set([...help.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]));

describe("deploy/kubernetes", () => {
  test("three coordinator replicas and three etcd members; selectors select their own pods", () => {
    expect(deploymentSpec.replicas).toBe(3);
    expect(statefulSetSpec.replicas).toBe(3);
    for (const workload of [deploymentSpec, statefulSetSpec]) {
      expect(selects(workload.selector.matchLabels, workload.template.metadata.labels)).toBe(true);
    }
    expect(selects(coordinatorServiceSpec.selector, deploymentSpec.template.metadata.labels)).toBe(
      true,
    );
    expect(selects(coordinatorServiceSpec.selector, statefulSetSpec.template.metadata.labels)).toBe(
      false,
    );
    expect(selects(etcdServiceSpec.selector, statefulSetSpec.template.metadata.labels)).toBe(true);
    expect(selects(etcdServiceSpec.selector, deploymentSpec.template.metadata.labels)).toBe(false);
    for (const o of all) expect(o.metadata.labels?.["app.kubernetes.io/part-of"]).toBe("strata");
  });

  test("every variable given to the coordinator is one its --help lists, and the configuration loads", () => {
    const known = helpEnv();
    const names = (coordinator.env ?? []).map((v) => v.name);
    const referenced = new Set(
      (coordinator.env ?? []).flatMap((v) =>
        [...(v.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]),
      ),
    );
    for (const name of names) {
      // A variable that is not the coordinator's must exist only to be substituted into one.
      const ok = known.has(name) || (referenced.has(name) && !name.startsWith("STRATA_"));
      expect({ name, ok }).toEqual({ name, ok: true });
    }
    for (const arg of [...(coordinator.args ?? []), ...(coordinator.command ?? []).slice(2)]) {
      const flag = arg.split("=")[0] as string;
      if (flag.startsWith("--"))
        expect({ flag, listed: helpFlags().has(flag) }).toEqual({ flag, listed: true });
    }

    const env = resolveEnv(coordinator, "10.1.2.3", secrets);
    for (const value of Object.values(env)) expect(value).not.toMatch(/\$\(/);
    const { config } = loadCoordinatorConfig({}, env);
    expect(config).toMatchObject({
      state: "etcd",
      grpcAddr: "0.0.0.0:50051",
      httpAddr: "0.0.0.0:3000",
      advertiseGrpcAddr: "10.1.2.3:50051",
      advertiseHttpAddr: "10.1.2.3:3000",
      authToken: TOKEN,
    });
    // The token comes from a Secret, never from the manifest.
    const token = (coordinator.env ?? []).find((v) => v.name === "STRATA_AUTH_TOKEN");
    expect(token?.value).toBeUndefined();
    expect(token?.valueFrom?.secretKeyRef).toEqual({ name: "strata-auth", key: "token" });
    // Shutdown fits in the pod's grace period.
    expect(config.shutdownGraceMs).toBeLessThan(
      (deploymentSpec.template.spec.terminationGracePeriodSeconds ?? 30) * 1_000,
    );
  });

  test("container ports, Service ports, probes and advertised addresses agree with the listen addresses", () => {
    const env = resolveEnv(coordinator, "10.1.2.3", secrets);
    const grpcPort = portOf(env.STRATA_GRPC_ADDR as string);
    const httpPort = portOf(env.STRATA_HTTP_ADDR as string);
    expect(containerPort(coordinator, "grpc")).toBe(grpcPort);
    expect(containerPort(coordinator, "http")).toBe(httpPort);
    expect(portOf(env.STRATA_ADVERTISE_GRPC_ADDR as string)).toBe(grpcPort);
    expect(portOf(env.STRATA_ADVERTISE_HTTP_ADDR as string)).toBe(httpPort);
    // Every pod advertises its own address: the pod IP.
    const advertised = (coordinator.env ?? []).find((v) => v.name === "STRATA_ADVERTISE_GRPC_ADDR");
    const podIp = (coordinator.env ?? []).find(
      (v) => v.valueFrom?.fieldRef?.fieldPath === "status.podIP",
    );
    expect(advertised?.value).toBe(`$(${podIp?.name}):${grpcPort}`);

    const servicePorts = Object.fromEntries(
      coordinatorServiceSpec.ports.map((p) => [
        p.name,
        { port: p.port, target: containerPort(coordinator, p.targetPort) },
      ]),
    );
    expect(servicePorts).toEqual({
      grpc: { port: grpcPort, target: grpcPort },
      http: { port: httpPort, target: httpPort },
    });
    for (const probe of [coordinator.livenessProbe, coordinator.readinessProbe]) {
      expect(containerPort(coordinator, probe?.httpGet?.port as string)).toBe(httpPort);
    }
    expect(coordinator.livenessProbe?.httpGet?.path).toBe("/api/health");
    expect(coordinator.readinessProbe?.httpGet?.path).toBe("/api/ready");
    // The image exposes the same ports.
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    const expose = /^EXPOSE\s+(.+)$/m.exec(
      dockerfile.slice(dockerfile.lastIndexOf("AS coordinator")),
    )?.[1];
    expect(expose?.split(/\s+/).map(Number).sort()).toEqual([grpcPort, httpPort].sort());
  });

  test("the image's command is the Dockerfile's and names a file the build produces", () => {
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    const stage = dockerfile.slice(dockerfile.lastIndexOf("AS coordinator"));
    const cmd = JSON.parse((/^CMD\s+(.+)$/m.exec(stage)?.[1] as string) ?? "[]") as string[];
    expect(coordinator.command).toEqual(cmd);
    expect(coordinator.command?.[0]).toBe("node");
    // The image's WORKDIR is the repository root; tests run after `pnpm build`, as the image's build.
    expect(join(root, coordinator.command?.[1] as string)).toBe(BIN);
    expect(existsSync(BIN)).toBe(true);
    expect(coordinator.image.split(":")[0]).toBe("strata-coordinator");
  });

  test("the coordinators' etcd endpoints are the members behind the etcd Service, on its client port", () => {
    const env = resolveEnv(coordinator, "10.1.2.3", secrets);
    const service = etcdService.metadata.name;
    expect(statefulSetSpec.serviceName).toBe(service);
    expect(etcdServiceSpec.clusterIP).toBe("None"); // headless: one DNS name per member
    expect(etcdServiceSpec.publishNotReadyAddresses).toBe(true);
    const clientPort = etcdServiceSpec.ports.find((p) => p.name === "client");
    const peerPort = etcdServiceSpec.ports.find((p) => p.name === "peer");
    expect(containerPort(etcd, clientPort?.targetPort as string)).toBe(clientPort?.port);
    expect(containerPort(etcd, peerPort?.targetPort as string)).toBe(peerPort?.port);
    const members = Array.from(
      { length: statefulSetSpec.replicas },
      (_, i) => `${statefulSet.metadata.name}-${i}`,
    );
    expect(env.STRATA_ETCD_ENDPOINTS?.split(",")).toEqual(
      members.map((m) => `${m}.${service}:${clientPort?.port}`),
    );

    // The members' own flags: every one exists in etcd, and they describe the same cluster.
    const etcdHelp = execFileSync("etcd", ["--help"], { encoding: "utf8" });
    const flags = new Map<string, string>();
    for (const arg of etcd.args ?? []) {
      const [flag, ...value] = arg.split("=");
      expect({ flag, known: etcdHelp.includes(`\n  ${flag} `) }).toEqual({ flag, known: true });
      flags.set(flag as string, value.join("="));
    }
    const self = "$(POD_NAME)";
    expect(
      (etcd.env ?? []).find((v) => v.name === "POD_NAME")?.valueFrom?.fieldRef?.fieldPath,
    ).toBe("metadata.name");
    expect(flags.get("--name")).toBe(self);
    expect(flags.get("--advertise-client-urls")).toBe(
      `http://${self}.${service}:${clientPort?.port}`,
    );
    expect(flags.get("--initial-advertise-peer-urls")).toBe(
      `http://${self}.${service}:${peerPort?.port}`,
    );
    expect(flags.get("--listen-client-urls")).toBe(`http://0.0.0.0:${clientPort?.port}`);
    expect(flags.get("--listen-peer-urls")).toBe(`http://0.0.0.0:${peerPort?.port}`);
    expect(flags.get("--initial-cluster")?.split(",")).toEqual(
      members.map((m) => `${m}=http://${m}.${service}:${peerPort?.port}`),
    );
    expect(flags.get("--initial-cluster-state")).toBe("new");
    const metrics = containerPort(etcd, "metrics");
    expect(flags.get("--listen-metrics-urls")).toBe(`http://0.0.0.0:${metrics}`);
    for (const probe of [etcd.livenessProbe, etcd.readinessProbe]) {
      expect(containerPort(etcd, probe?.httpGet?.port as string)).toBe(metrics);
      expect(probe?.httpGet?.path.startsWith("/health")).toBe(true);
    }
    // The data directory is on the claimed volume.
    const mount = etcd.volumeMounts?.find(
      (m) => m.name === statefulSetSpec.volumeClaimTemplates?.[0]?.metadata.name,
    );
    expect(flags.get("--data-dir")?.startsWith(`${mount?.mountPath}/`)).toBe(true);
    expect(etcd.image).toMatch(/^quay\.io\/coreos\/etcd:v3\.5\.\d+$/);
  });

  test("pods run as non-root without privileges; the coordinator's user is the image's", () => {
    for (const workload of [deploymentSpec, statefulSetSpec]) {
      const spec = workload.template.spec;
      expect(spec.securityContext?.runAsNonRoot).toBe(true);
      expect(spec.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const container of spec.containers) {
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
      }
    }
    // The image runs as `node` (uid 1000 in the node images); the pod asks for the same uid.
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(deploymentSpec.template.spec.securityContext?.runAsUser).toBe(1000);
    // With a read-only root, every place it writes is a volume: the data directory and /tmp.
    const env = resolveEnv(coordinator, "10.1.2.3", secrets);
    const mounts = (coordinator.volumeMounts ?? []).map((m) => m.mountPath);
    expect(mounts).toEqual(expect.arrayContaining([env.STRATA_DATA_DIR, "/tmp"]));
    const volumes = (deploymentSpec.template.spec.volumes ?? []).map((v) => v.name);
    for (const m of coordinator.volumeMounts ?? []) expect(volumes).toContain(m.name);
  });

  test("rollouts and disruptions fit a Deployment where only the leader is ready", () => {
    // A rolling update waiting for new ready pods would never finish: new pods follow until the
    // old leader goes. Nothing may require more than zero ready pods during a rollout...
    expect(deploymentSpec.strategy?.type).toBe("RollingUpdate");
    expect(deploymentSpec.strategy?.rollingUpdate?.maxUnavailable).toBe("100%");
    // ...and no disruption budget may count coordinator pods (one ready pod of three would block
    // every node drain).
    for (const pdb of all.filter((o) => o.kind === "PodDisruptionBudget")) {
      const selector = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector;
      expect(selects(selector.matchLabels, deploymentSpec.template.metadata.labels)).toBe(false);
    }
    // etcd keeps its quorum through voluntary disruptions.
    const etcdBudget = find(etcdObjects, "PodDisruptionBudget");
    expect(
      selects(etcdBudget.spec.selector.matchLabels, statefulSetSpec.template.metadata.labels),
    ).toBe(true);
    expect(etcdBudget.spec.minAvailable).toBe(Math.floor(statefulSetSpec.replicas / 2) + 1);
  });

  test("the network policy lets coordinators reach etcd's client port, and members each other", () => {
    const policy = find(etcdObjects, "NetworkPolicy");
    expect(
      selects(policy.spec.podSelector.matchLabels, statefulSetSpec.template.metadata.labels),
    ).toBe(true);
    const rules = policy.spec.ingress as {
      from: { podSelector: { matchLabels: Record<string, string> } }[];
      ports: { port: number }[];
    }[];
    const allowed = (labels: Record<string, string>) =>
      rules
        .filter((r) => r.from.some((f) => selects(f.podSelector.matchLabels, labels)))
        .flatMap((r) => r.ports.map((p) => p.port))
        .sort();
    const client = etcdServiceSpec.ports.find((p) => p.name === "client")?.port as number;
    const peer = etcdServiceSpec.ports.find((p) => p.name === "peer")?.port as number;
    expect(allowed(deploymentSpec.template.metadata.labels)).toEqual([client]);
    expect(allowed(statefulSetSpec.template.metadata.labels)).toEqual([client, peer].sort());
  });

  test("the README's commands name what the manifests define, and say why they cannot run here", () => {
    const readme = join(dir, "README.md");
    const blocks = fencedBlocks(readme, { lang: "bash" });
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      // No Docker engine and no cluster on this machine: each block says so where a reader sees it.
      expect({ line: block.line, runnable: block.runnable }).toEqual({
        line: block.line,
        runnable: false,
      });
      expect(block.reason).toMatch(/needs a (Docker engine|Kubernetes cluster)/);
    }
    const code = blocks.map((b) => b.code).join("\n");
    const token = (coordinator.env ?? []).find((v) => v.name === "STRATA_AUTH_TOKEN")?.valueFrom
      ?.secretKeyRef as { name: string; key: string };
    expect(code).toContain(`create secret generic ${token.name} --from-literal=${token.key}=`);
    expect(code).toContain("apply -f deploy/kubernetes/");
    expect(existsSync(join(root, "deploy", "kubernetes"))).toBe(true);
    expect(code).toContain(`rollout status statefulset/${statefulSet.metadata.name}\n`);
    expect(code).toContain(`rollout status deployment/${deployment.metadata.name}\n`);
    const selector = /get pods -l (\S+)=(\S+)/.exec(code);
    expect(deploymentSpec.template.metadata.labels[selector?.[1] as string]).toBe(selector?.[2]);
    // What workers are told to dial: the Service, on its gRPC port.
    const text = readFileSync(readme, "utf8");
    const grpc = coordinatorServiceSpec.ports.find((p) => p.name === "grpc")?.port;
    expect(text).toContain(`\`${coordinatorService.metadata.name}:${grpc}\``);
    expect(text).toContain(`port-forward svc/${coordinatorService.metadata.name} 3000:3000`);
    expect(coordinatorServiceSpec.ports.find((p) => p.name === "http")?.port).toBe(3000);
    expect(text).toContain(`\`${etcd.image}\``);
  });

  describe("the probes, sent to real coordinators started with the manifest's settings", () => {
    let tmp: string;
    let etcdProcess: EtcdProcess | undefined;
    const started: CoordinatorProcess[] = [];

    beforeAll(() => {
      tmp = makeTempDir("strata-k8s-");
    });
    afterAll(async () => {
      for (const c of started) await c.stop("SIGKILL");
      await etcdProcess?.stop("SIGKILL");
      removeDir(tmp);
    });

    /** The manifest's environment, with what names this machine (addresses, endpoints) left to flags. */
    function manifestEnv(): Record<string, string> {
      const {
        STRATA_ADVERTISE_GRPC_ADDR: _g,
        STRATA_ADVERTISE_HTTP_ADDR: _h,
        POD_IP: _ip,
        ...env
      } = resolveEnv(coordinator, "127.0.0.1", secrets);
      return env;
    }

    /** What the kubelet does: a GET without credentials; 200–399 passes. */
    async function probe(c: CoordinatorProcess, which: "livenessProbe" | "readinessProbe") {
      const get = coordinator[which]?.httpGet as { path: string };
      const response = await fetch(`http://${c.http}${get.path}`);
      await response.arrayBuffer();
      return { status: response.status, passes: response.status >= 200 && response.status < 400 };
    }

    async function role(c: CoordinatorProcess): Promise<string> {
      const response = await fetch(`http://${c.http}/api/status`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return ((await response.json()) as { role: string }).role;
    }

    test("leader: alive and ready; follower: alive, not ready (503)", async () => {
      etcdProcess = await startEtcd(tmp);
      for (let i = 0; i < 2; i++) {
        started.push(
          await startCoordinatorProcess(
            join(tmp, `c${i}`),
            ["--etcd-endpoints", (etcdProcess as EtcdProcess).endpoint],
            manifestEnv(),
          ),
        );
      }
      // The first one campaigns first; wait until one of them leads.
      let roles: string[] = [];
      for (let i = 0; i < 200 && !roles.includes("leader"); i++) {
        roles = await Promise.all(started.map((c) => role(c).catch(() => "down")));
        if (!roles.includes("leader")) await new Promise((r) => setTimeout(r, 50));
      }
      expect(roles.sort()).toEqual(["follower", "leader"]);
      for (const c of started) {
        const leads = (await role(c)) === "leader";
        expect(await probe(c, "livenessProbe")).toEqual({ status: 200, passes: true });
        expect(await probe(c, "readinessProbe")).toEqual(
          leads ? { status: 200, passes: true } : { status: 503, passes: false },
        );
      }
    });

    test("standalone (SQLite, same token): alive and ready", async () => {
      const { STRATA_STATE: _s, ...env } = manifestEnv();
      const standalone = await startCoordinatorProcess(join(tmp, "standalone"), [], env);
      started.push(standalone);
      expect(await role(standalone)).toBe("standalone");
      expect(await probe(standalone, "livenessProbe")).toEqual({ status: 200, passes: true });
      expect(await probe(standalone, "readinessProbe")).toEqual({ status: 200, passes: true });
    });
  });
});
