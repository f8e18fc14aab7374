import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { credentials, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "./helpers/coordinator-process.js";
import { connect, grpcError } from "./helpers/grpc-clients.js";

const TOKEN = "test-token-0123456789abcdef";

describe("bearer auth + TLS", () => {
  let coordinator: CoordinatorProcess;
  let dir: string;
  let ca: Buffer;

  beforeAll(async () => {
    dir = makeTempDir();
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-keyout",
          key,
          "-out",
          cert,
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        { stdio: "pipe" },
      );
    } catch (error) {
      throw new Error(
        `this test needs the openssl command to make a self-signed certificate: ${String(error)}`,
      );
    }
    ca = readFileSync(cert);
    coordinator = await startCoordinatorProcess(join(dir, "data"), ["--tls-cert", cert], {
      STRATA_AUTH_TOKEN: TOKEN,
      STRATA_TLS_KEY: key,
    });
  });

  afterAll(async () => {
    expect(await coordinator?.stop()).toBe(0);
    removeDir(dir);
  });

  const tls = () => ({
    credentials: credentials.createSsl(ca),
    channelOptions: { "grpc.ssl_target_name_override": "localhost" },
  });

  test("a TLS client with the token works", async () => {
    const client = connect(coordinator.grpc, { ...tls(), token: TOKEN });
    try {
      const config = await client.registerWorker({ workerId: "secure-1" });
      expect(config.rank).toBe(0);
    } finally {
      client.close();
    }
  });

  test("missing or wrong tokens are UNAUTHENTICATED, on unary and streaming RPCs", async () => {
    for (const token of [undefined, "wrong-token-0123456789abcdef"]) {
      const client = connect(coordinator.grpc, { ...tls(), ...(token ? { token } : {}) });
      try {
        const error = await grpcError(client.registerWorker({ workerId: "intruder" }));
        expect(error.code).toBe(GrpcStatus.UNAUTHENTICATED);
        const streamError = await new Promise<ServiceError>((resolve) => {
          const stream = client.raw.streamHeartbeats();
          stream.on("error", resolve);
          stream.on("data", () => undefined);
          stream.write({
            workerId: "secure-1",
            timestampMs: 0n,
            status: undefined,
            resources: undefined,
          });
        });
        expect(streamError.code).toBe(GrpcStatus.UNAUTHENTICATED);
      } finally {
        client.close();
      }
    }
  });

  test("a plaintext client cannot talk to the TLS port", async () => {
    const client = connect(coordinator.grpc, { token: TOKEN });
    try {
      const error = await grpcError(client.heartbeat({ workerId: "secure-1" }));
      expect(error.code).toBe(GrpcStatus.UNAVAILABLE);
    } finally {
      client.close();
    }
  });

  /** GET over HTTPS trusting the test CA; resolves with status and body. */
  function httpsGet(path: string, token?: string): Promise<{ status: number; body: string }> {
    const [host, port] = coordinator.http.split(":");
    return new Promise((resolve, reject) => {
      const request = https.get(
        {
          host,
          port: Number(port),
          path,
          ca,
          servername: "localhost",
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        },
        (response) => {
          let body = "";
          response.on("data", (chunk: Buffer) => {
            body += chunk.toString();
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      request.on("error", reject);
    });
  }

  test("HTTP is served over TLS too and needs the token except the probes /api/health and /api/ready", async () => {
    expect((await httpsGet("/api/health")).status).toBe(200);
    const denied = await httpsGet("/metrics");
    expect(denied.status).toBe(401);
    expect(JSON.parse(denied.body)).toEqual({
      code: "unauthenticated",
      message: "missing or invalid bearer token",
    });
    expect((await httpsGet("/api/ready")).status).toBe(200);
    expect((await httpsGet("/api/workers", "nope")).status).toBe(401);
    const metrics = await httpsGet("/metrics", TOKEN);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/strata_auth_failures_total\{transport="grpc"\} [1-9]/);
    // Plain HTTP to the TLS port does not get an answer from the router.
    await expect(fetch(`http://${coordinator.http}/api/health`)).rejects.toThrow();
  });
});

describe("without auth", () => {
  test("calls without a token are accepted", async () => {
    const dir = makeTempDir();
    const coordinator = await startCoordinatorProcess(dir, [
      "--rate-limit-rps",
      "5",
      "--rate-limit-burst",
      "5",
    ]);
    const client = connect(coordinator.grpc);
    try {
      await client.registerWorker({ workerId: "open-1" });
      // Rate limit: 5 tokens of burst, 5/s; 30 calls at once overrun it.
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, () => client.heartbeat({ workerId: "open-1" })),
      );
      const refused = results.filter(
        (r) =>
          r.status === "rejected" &&
          (r.reason as ServiceError).code === GrpcStatus.RESOURCE_EXHAUSTED,
      );
      expect(refused.length).toBeGreaterThan(0);
      expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThan(0);
      // The warning about running without a token was logged.
      expect(coordinator.stderr()).toContain("no auth token set");
    } finally {
      client.close();
      expect(await coordinator.stop()).toBe(0);
      removeDir(dir);
    }
  });
});
