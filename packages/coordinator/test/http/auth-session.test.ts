import { join } from "node:path";
import {
  apiErrorSchema,
  sessionResponseSchema,
  workersResponseSchema,
} from "../../src/api/index.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { call, getParsed, SseClient } from "./http-client.js";

const TOKEN = "http-test-token-0123456789";
const ALLOWED = "https://ops.example.com";

describe("with a token", () => {
  let dir: string;
  let coordinator: CoordinatorProcess;
  let base: string;

  beforeAll(async () => {
    dir = makeTempDir();
    coordinator = await startCoordinatorProcess(
      join(dir, "data"),
      ["--cors-origins", `${ALLOWED}, http://localhost:5173`],
      { STRATA_AUTH_TOKEN: TOKEN },
    );
    base = `http://${coordinator.http}`;
  });

  afterAll(async () => {
    const code = await coordinator?.stop();
    removeDir(dir);
    expect(code).toBe(0);
  });

  const protectedPaths = [
    "/api/status",
    "/api/workers",
    "/api/workers/w",
    "/api/workers/w/history",
    "/api/datasets",
    "/api/datasets/d",
    "/api/checkpoints",
    "/api/checkpoints/j/1",
    "/api/barriers",
    "/api/barriers/b",
    "/api/metrics",
    "/api/dashboard",
    "/api/tasks",
    "/api/tasks/t/logs",
    "/api/logs",
    "/api/history",
    "/api/events",
    "/api/events/recent",
    "/api/no-such-route",
    "/metrics",
  ];

  test("every /api route, the event stream and /metrics need the token; the probes /api/health and /api/ready do not", async () => {
    for (const path of protectedPaths) {
      for (const token of [undefined, "wrong-token-0123456789abcdef"]) {
        const answer = await call(base, path, token === undefined ? {} : { token });
        expect([path, answer.status]).toEqual([path, 401]);
        expect(apiErrorSchema.parse(answer.body)).toEqual({
          code: "unauthenticated",
          message: "missing or invalid bearer token",
        });
        expect(answer.headers.get("www-authenticate")).toBe('Bearer realm="strata"');
      }
    }
    const refused = await call(base, "/api/tasks", {
      body: { name: "t", type: "x", dataset_id: "", worker_count: 1, config: {} },
    });
    expect(refused.status).toBe(401);
    expect((await call(base, "/api/health")).status).toBe(200);
    // Kubernetes probes and load balancers send no credentials.
    const ready = await call(base, "/api/ready");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready", engine: true, grpc: true, store: true });
    expect((await call(base, "/api/workers", { token: TOKEN })).status).toBe(200);
    // The token in the URL is not a way in.
    expect((await call(base, `/api/workers?token=${TOKEN}`)).status).toBe(401);
    const metrics = await call(base, "/metrics", { token: TOKEN });
    expect(metrics.text).toMatch(/strata_auth_failures_total\{transport="http"\} [1-9]/);
  });

  test("a browser signs in with POST /api/session and gets an HttpOnly, SameSite=Strict cookie", async () => {
    const anonymous = await getParsed(base, "/api/session", sessionResponseSchema);
    expect(anonymous).toEqual({ auth_required: true, authenticated: false });

    const wrong = await call(base, "/api/session", { body: { token: "not-the-token-at-all" } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const empty = await call(base, "/api/session", { body: { token: "" } });
    expect(empty.status).toBe(400);
    expect(apiErrorSchema.parse(empty.body).field).toBe("token");

    const signIn = await call(base, "/api/session", { body: { token: TOKEN } });
    expect(signIn.status).toBe(204);
    const setCookie = signIn.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^strata_session=v1\.\d+\.[A-Za-z0-9_-]+;/);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Path=/");
    expect(setCookie).not.toContain("Secure"); // plain HTTP here; HTTPS adds it
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(";")[0] as string;

    expect(await getParsed(base, "/api/session", sessionResponseSchema, { cookie })).toEqual({
      auth_required: true,
      authenticated: true,
    });
    expect(await getParsed(base, "/api/workers", workersResponseSchema, { cookie })).toEqual([]);
    const stream = await SseClient.open(`${base}/api/events`, { cookie });
    try {
      const hello = await stream.next((m) => m.event === "hello");
      expect(JSON.parse(hello.data).seq).toBeGreaterThan(0);
    } finally {
      stream.close();
    }
    // A forged or tampered cookie is refused.
    const forged = cookie.replace(/\.(\d+)\./, (_m, ms: string) => `.${Number(ms) + 1}.`);
    expect((await call(base, "/api/workers", { cookie: forged })).status).toBe(401);
    expect(
      (await call(base, "/api/workers", { cookie: "strata_session=v1.99999999999999.abc" })).status,
    ).toBe(401);

    const signOut = await call(base, "/api/session", { method: "DELETE", cookie });
    expect(signOut.status).toBe(204);
    expect(signOut.headers.get("set-cookie")).toMatch(/strata_session=;.*Expires=Thu, 01 Jan 1970/);
  });

  test("CORS: only allow-listed origins get CORS headers", async () => {
    const allowed = await call(base, "/api/health", { headers: { origin: ALLOWED } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(allowed.headers.get("access-control-allow-credentials")).toBe("true");
    const preflight = await call(base, "/api/tasks", {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,authorization",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const denied = await call(base, "/api/health", { headers: { origin: "https://evil.example" } });
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
    const deniedPreflight = await call(base, "/api/tasks", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(deniedPreflight.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("without a token", () => {
  test("everything is open, sessions say so, and the rate limit answers 429 as JSON", async () => {
    const dir = makeTempDir();
    const coordinator = await startCoordinatorProcess(join(dir, "data"), [
      "--http-rate-limit-rps",
      "2",
    ]);
    const base = `http://${coordinator.http}`;
    try {
      expect(await getParsed(base, "/api/session", sessionResponseSchema)).toEqual({
        auth_required: false,
        authenticated: true,
      });
      const signIn = await call(base, "/api/session", { body: { token: "anything" } });
      expect(signIn.status).toBe(204);
      expect(signIn.headers.get("set-cookie")).toBeNull();
      // 2/s over a 10 s window is 20 requests; three requests above were counted already.
      const answers = [];
      for (let i = 0; i < 20; i++) answers.push(await call(base, "/api/workers"));
      const limited = answers.filter((a) => a.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(apiErrorSchema.parse(limited[0]?.body)).toEqual({
        code: "resource_exhausted",
        message: "too many requests; slow down",
      });
      expect(limited[0]?.headers.get("ratelimit-policy")).toContain("w=10");
      // Probes are never limited.
      expect((await call(base, "/api/health")).status).toBe(200);
      // Kubernetes probes and load balancers send no credentials.
      const ready = await call(base, "/api/ready");
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: "ready", engine: true, grpc: true, store: true });
    } finally {
      expect(await coordinator.stop()).toBe(0);
      removeDir(dir);
    }
  });
});
