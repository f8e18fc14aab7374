import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  makeTempDir,
  removeDir,
  runBin,
  startCoordinatorProcess,
} from "./helpers/coordinator-process.js";
import { connect } from "./helpers/grpc-clients.js";

let dir: string;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => removeDir(dir));

describe("start-up problems are found before the banner, reported together, exit 2", () => {
  test("a data directory that is a file, a TLS pair with no key and a short token, at once", async () => {
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "x");
    const { code, stdout, stderr } = await runBin(
      ["--data-dir", file, "--tls-cert", join(dir, "cert.pem"), "--grpc-addr", "127.0.0.1:0"],
      { STRATA_AUTH_TOKEN: "change-me" },
    );
    expect(code).toBe(2);
    expect(stdout).toBe(""); // no banner
    // The token problem comes from configuration validation, reported first and alone…
    expect(stderr).toContain('config key "authToken" from environment STRATA_AUTH_TOKEN');
    expect(stderr).not.toContain("change-me");
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    // …and once it is fixed, the directory and the TLS pair are reported together.
    const second = await runBin(
      ["--data-dir", file, "--tls-cert", join(dir, "cert.pem"), "--grpc-addr", "127.0.0.1:0"],
      { STRATA_AUTH_TOKEN: "a-token-long-enough-0123" },
    );
    expect(second.code).toBe(2);
    expect(second.stdout).toBe("");
    expect(second.stderr).toContain(
      `config key "dataDir" from flag --data-dir: ${file} exists and is not a directory`,
    );
    expect(second.stderr).toContain(
      'config key "tlsKey" from the default: tlsCert and tlsKey must be given together',
    );
    expect(second.stderr).not.toContain("a-token-long-enough-0123");
    expect(second.stderr).not.toContain("EEXIST");
    expect(second.stderr).not.toMatch(/\n\s+at /);
  });

  test("a TLS key that does not match its certificate is named", async () => {
    const { code, stderr } = await runBin([
      "--data-dir",
      join(dir, "tls-data"),
      "--tls-cert",
      join(__dirname, "fixtures", "missing-cert.pem"),
      "--tls-key",
      writeKey(),
    ]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/config key "tlsCert" from flag --tls-cert: cannot read/);
  });

  test("a number that is not a number is shown as typed", async () => {
    const { code, stderr } = await runBin(["--heartbeat-timeout-ms", "abc"]);
    expect(code).toBe(2);
    expect(stderr).toContain('(got "abc")');
    expect(stderr).not.toContain("got null");
  });
});

describe("one coordinator per data directory", () => {
  test("a second coordinator on the same directory exits 2 naming it and the holder's pid; kill -9 leaves no stale lock", async () => {
    const data = join(dir, "shared");
    mkdirSync(data);
    const first = await startCoordinatorProcess(data);
    try {
      const { code, stdout, stderr } = await runBin([
        "--data-dir",
        data,
        "--grpc-addr",
        "127.0.0.1:0",
        "--http-addr",
        "127.0.0.1:0",
      ]);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toContain(`data directory ${data} is in use by another coordinator`);
      expect(stderr).toContain(`pid ${first.child.pid}`);
      const client = connect(first.grpc);
      try {
        expect((await client.registerWorker({ workerId: "only" })).rank).toBe(0);
      } finally {
        client.close();
      }
    } finally {
      expect(await first.stop("SIGKILL")).toBe("SIGKILL");
    }
    // The OS released the lock with the process: a new coordinator starts on the same state.
    const again = await startCoordinatorProcess(data);
    const client = connect(again.grpc);
    try {
      // The worker registered with the first coordinator is still known (same rank).
      expect((await client.registerWorker({ workerId: "only" })).rank).toBe(0);
      expect((await client.registerWorker({ workerId: "other" })).rank).toBe(1);
    } finally {
      client.close();
      expect(await again.stop("SIGTERM")).toBe(0);
    }
  });
});

function writeKey(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const path = join(dir, "key.pem");
  writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem" }));
  return path;
}
