import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/** Credentials s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** A real s3rver process on a free port, its data in a temp folder. */
export interface S3rver {
  readonly endpoint: string;
  readonly bucket: string;
  readonly dataDir: string;
  /** Stops the server (by its pid) and removes its data. */
  dispose(): Promise<void>;
}

/** A TCP port that was free a moment ago (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts s3rver (a devDependency of this package) from `packageDir`, with
 * `--openssl-legacy-provider` (its list continuation tokens use DES) and one bucket. Fails with a
 * clear message when s3rver is not installed; never skips.
 */
export async function startS3rver(packageDir: string, bucket = "strata-ckpt"): Promise<S3rver> {
  let bin: string;
  try {
    const pkg = createRequire(path.join(packageDir, "package.json")).resolve("s3rver/package.json");
    bin = path.join(path.dirname(pkg), "bin", "s3rver.js");
  } catch {
    throw new Error(
      "s3rver is not installed: run `pnpm install` (devDependency of @strata/checkpoint)",
    );
  }
  if (!existsSync(bin)) throw new Error(`s3rver is installed but ${bin} is missing`);
  const dataDir = await mkdtemp(path.join(tmpdir(), "strata-ckpt-s3rver-"));
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--openssl-legacy-provider",
      bin,
      "-d",
      dataDir,
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "--configure-bucket",
      bucket,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`s3rver did not start within 15 s: ${output}`)),
      15_000,
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("listening")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code} before listening: ${output}`));
    });
  });
  child.stdout?.removeAllListeners("data");
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    dataDir,
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGKILL");
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
