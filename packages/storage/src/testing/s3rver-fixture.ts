import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/** Credentials s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** A real s3rver process on a free port, with its data in a temp folder. */
export interface S3rverFixture {
  readonly endpoint: string;
  readonly bucket: string;
  readonly dataDir: string;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open but nothing answers. */
  pause(): void;
  /** Thaws a paused server (SIGCONT). */
  resume(): void;
  /** Starts the server again on the same port and data folder. */
  restart(): Promise<void>;
  /** Stops the server and removes its data. */
  dispose(): Promise<void>;
}

function s3rverBin(resolveFrom: string | undefined): string {
  let pkg: string;
  try {
    // An explicit folder wins; under jest (CommonJS) `require` resolves from this package, which
    // has s3rver as a devDependency; as ESM (benchmarks) we resolve from the working folder.
    const resolver =
      resolveFrom !== undefined
        ? createRequire(path.join(resolveFrom, "package.json"))
        : typeof require === "function"
          ? require
          : createRequire(path.join(process.cwd(), "package.json"));
    pkg = resolver.resolve("s3rver/package.json");
  } catch {
    throw new Error(
      "s3rver is not installed: run `pnpm install` (it is a devDependency of the package whose tests use it)",
    );
  }
  const bin = path.join(path.dirname(pkg), "bin", "s3rver.js");
  if (!existsSync(bin)) throw new Error(`s3rver is installed but ${bin} is missing`);
  return bin;
}

/** A TCP port that was free a moment ago. */
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

/** Options for {@link startS3rver}. */
export interface S3rverOptions {
  /** The bucket to create. Default `strata-test`. */
  bucket?: string;
  /** A package folder to resolve the `s3rver` package from (it must be a dependency there). */
  resolveFrom?: string;
}

/**
 * Starts a real s3rver process on a free loopback port for tests and benchmarks, with
 * `--openssl-legacy-provider` (it encrypts ListObjectsV2 continuation tokens with DES, which
 * OpenSSL 3 keeps in the legacy provider) and one configured bucket. Fails with a clear message
 * when s3rver is not installed; never skips. Use {@link S3RVER_CREDENTIALS} to connect.
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverFixture> {
  const bucket = options.bucket ?? "strata-test";
  const bin = s3rverBin(options.resolveFrom);
  const dataDir = await mkdtemp(path.join(tmpdir(), "strata-s3rver-"));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async () => {
    const proc = spawn(
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
    child = proc;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`s3rver did not start within 15 s: ${output}`)),
        15_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("listening")) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code} before listening: ${output}`));
      });
    });
    proc.stdout?.removeAllListeners("data");
    proc.stdout?.resume();
    proc.stderr?.resume();
  };

  const kill = async () => {
    const proc = child;
    child = undefined;
    if (
      proc === undefined ||
      proc.exitCode !== null ||
      (proc.signalCode !== null && proc.signalCode !== "SIGSTOP")
    )
      return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGKILL");
    await exited;
  };

  await launch();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    dataDir,
    kill,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
    restart: launch,
    async dispose() {
      await kill();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
