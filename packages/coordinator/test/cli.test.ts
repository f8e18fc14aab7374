import { writeFileSync } from "node:fs";
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

test("--help lists every flag and its environment variable", async () => {
  const { code, stdout } = await runBin(["--help"]);
  expect(code).toBe(0);
  for (const [flag, env] of [
    ["--grpc-addr", "STRATA_GRPC_ADDR"],
    ["--http-addr", "STRATA_HTTP_ADDR"],
    ["--data-dir", "STRATA_DATA_DIR"],
    ["--heartbeat-timeout-ms", "STRATA_HEARTBEAT_TIMEOUT_MS"],
    ["--auth-token", "STRATA_AUTH_TOKEN"],
    ["--tls-cert", "STRATA_TLS_CERT"],
    ["--tls-key", "STRATA_TLS_KEY"],
    ["--log-level", "STRATA_LOG_LEVEL"],
  ]) {
    expect(stdout).toContain(flag);
    expect(stdout).toContain(env);
  }
  expect(stdout).toContain("--config");
});

test.each([
  [["--heartbeat-timeout-ms", "soon"], {}, /heartbeatTimeoutMs.*flag --heartbeat-timeout-ms/],
  [
    [],
    { STRATA_HEARTBEAT_TIMEOUT_MS: "-1" },
    /heartbeatTimeoutMs.*environment STRATA_HEARTBEAT_TIMEOUT_MS/,
  ],
  [["--grpc-addr", "nowhere"], {}, /grpcAddr/],
  [["--http-addr", "127.0.0.1:70000"], {}, /httpAddr.*port/],
  [["--log-level", "loud"], {}, /logLevel/],
  [
    ["--tls-cert", "/nonexistent.pem"],
    {},
    /config key "tlsKey" from the default: tlsCert and tlsKey must be given together/,
  ],
  [["--auth-token", "short"], {}, /authToken.*16/],
  [["--no-such-flag"], {}, /unknown option/],
])("bad configuration %p %p exits 2 naming the key", async (args, env, message) => {
  const { code, stderr } = await runBin([...args, "--data-dir", join(dir, "never")], env);
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
});

test("a config file with an unknown key exits 2 naming it", async () => {
  const file = join(dir, "bad.json");
  writeFileSync(file, JSON.stringify({ grpcAddr: "127.0.0.1:0", grpcPort: 1 }));
  const { code, stderr } = await runBin(["--config", file]);
  expect(code).toBe(2);
  expect(stderr).toContain('unknown key "grpcPort"');
});

test("precedence: file < env < flags; SIGINT shuts down cleanly", async () => {
  const file = join(dir, "good.yaml");
  // The file asks for an unusable port; the environment overrides it; the flag overrides the
  // file's heartbeat timeout, which we can see in the registration answer (interval = timeout/3).
  writeFileSync(file, "grpcAddr: 127.0.0.1:1\nheartbeatTimeoutMs: 9000\nlogLevel: debug\n");
  const coordinator = await startCoordinatorProcess(
    join(dir, "data-prec"),
    ["--config", file, "--heartbeat-timeout-ms", "3000"],
    {
      STRATA_GRPC_ADDR: "127.0.0.1:0",
    },
  );
  const client = connect(coordinator.grpc);
  try {
    expect(coordinator.grpc).not.toBe("127.0.0.1:1");
    const config = await client.registerWorker({ workerId: "prec" });
    expect(config.heartbeatIntervalMs).toBe(1000n);
  } finally {
    client.close();
  }
  expect(await coordinator.stop("SIGINT")).toBe(0);
  expect(coordinator.stderr()).toContain('"msg":"stopped"');
});

test("shutdown with a barrier waiter open: the waiter gets UNAVAILABLE and the process exits 0", async () => {
  const coordinator = await startCoordinatorProcess(join(dir, "data-drain"));
  const client = connect(coordinator.grpc);
  try {
    await client.registerWorker({ workerId: "d1" });
    await client.registerWorker({ workerId: "d2" });
    const waiting = client.waitBarrier("d1", "held").catch((e: { code: number }) => e.code);
    // The barrier has one of two members; once the coordinator counts it, shut down.
    for (;;) {
      const text = await (await fetch(`http://${coordinator.http}/metrics`)).text();
      if (/strata_barrier_waiters 1/.test(text)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const exit = coordinator.stop("SIGTERM");
    expect(await waiting).toBe(14); // UNAVAILABLE
    expect(await exit).toBe(0);
  } finally {
    client.close();
  }
});

test("SIGTERM sent the moment the listening line is read shuts down cleanly (exit 0), every time", async () => {
  // A supervisor may stop a coordinator as soon as it reports listening; the signal handlers must
  // already be in place then (the default action would kill it mid-write). Five tries: without
  // the handlers in place first, most of them died by the signal.
  const results: (number | string)[] = [];
  for (let i = 0; i < 5; i++) {
    const coordinator = await startCoordinatorProcess(join(dir, `data-early-term-${i}`));
    results.push(await coordinator.stop("SIGTERM"));
  }
  expect(results).toEqual([0, 0, 0, 0, 0]);
});
