import { metricsResponseSchema, workersResponseSchema } from "../../src/api/index.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { connect, status, type TestClient, WorkerStatus_State } from "../helpers/grpc-clients.js";
import { eventually, getParsed } from "./http-client.js";

// A worker that deregisters left; one that stops heartbeating died. The API, the figures and
// Prometheus tell them apart: only deaths count as dead.
jest.setTimeout(60_000);

let dir: string;
let coordinator: CoordinatorProcess;
let client: TestClient;

beforeAll(async () => {
  dir = makeTempDir("strata-departure-");
  coordinator = await startCoordinatorProcess(dir, ["--heartbeat-timeout-ms", "1500"]);
  client = connect(coordinator.grpc);
});

afterAll(async () => {
  client.close();
  await coordinator.stop();
  removeDir(dir);
});

test("left, dead and alive workers in /api/workers, /api/metrics and /metrics", async () => {
  for (const id of ["leaver", "dier", "stayer"]) await client.registerWorker({ workerId: id });
  await client.deregisterWorker("leaver");
  const beating = setInterval(
    () =>
      void client
        .heartbeat({ workerId: "stayer", status: status(WorkerStatus_State.TRAINING, 1) })
        .catch(() => undefined),
    300,
  );
  try {
    const base = `http://${coordinator.http}`;
    const workers = await eventually(async () => {
      const list = await getParsed(base, "/api/workers", workersResponseSchema);
      return list.find((w) => w.id === "dier")?.alive === false ? list : undefined;
    }, "dier declared dead");
    const byId = new Map(workers.map((w) => [w.id, w]));
    expect(byId.get("leaver")).toMatchObject({ alive: false, left: true, state: "dead" });
    expect(byId.get("dier")).toMatchObject({ alive: false, left: false, state: "dead" });
    expect(byId.get("stayer")).toMatchObject({ alive: true, left: false });

    const metrics = await eventually(async () => {
      const m = await getParsed(base, "/api/metrics", metricsResponseSchema);
      return m.dead_workers === 1 && m.live_workers === 1 ? m : undefined;
    }, "the figures to count the death");
    expect(metrics.total_workers).toBe(3);
    const prometheus = await (await fetch(`${base}/metrics`)).text();
    expect(prometheus).toMatch(/^strata_workers_dead 1$/m);
    expect(prometheus).toMatch(/^strata_workers_live 1$/m);
    expect(prometheus).toMatch(/^strata_workers_registered 3$/m);
  } finally {
    clearInterval(beating);
  }
});
