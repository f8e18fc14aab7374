import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

/** A single-member etcd started by a test (Debian's `etcd-server`). */
export interface EtcdProcess {
  readonly endpoint: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Stops it (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same data directory and ports. */
  restart(): Promise<EtcdProcess>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function etcdBinary(): string {
  try {
    return execFileSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(
      "etcd is not installed: install Debian's etcd-server (bash scripts/install-test-deps.sh)",
    );
  }
}

/** Starts etcd on free loopback ports with its data in `dir`, and waits until it answers. */
export async function startEtcd(
  dir: string,
  ports?: { client: number; peer: number },
): Promise<EtcdProcess> {
  const client = ports?.client ?? (await freePort());
  const peer = ports?.peer ?? (await freePort());
  const dataDir = join(dir, "etcd");
  const child = spawn(
    etcdBinary(),
    [
      "--name",
      "test",
      "--data-dir",
      dataDir,
      "--listen-client-urls",
      `http://127.0.0.1:${client}`,
      "--advertise-client-urls",
      `http://127.0.0.1:${client}`,
      "--listen-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-cluster",
      `test=http://127.0.0.1:${peer}`,
      "--log-level",
      "error",
      "--logger",
      "zap",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const endpoint = `127.0.0.1:${client}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await fetch(`http://${endpoint}/health`);
      if (response.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`etcd exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`etcd did not become healthy in 15 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const handle: EtcdProcess = {
    endpoint,
    dataDir,
    child,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill(signal);
      await exited;
    },
    restart: () => startEtcd(dir, { client, peer }),
  };
  return handle;
}
