import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinator,
} from "./helpers/coordinator-process.js";
import { startWorker, type WorkerEvent, type WorkerProcess } from "./helpers/worker-process.js";

// strata-worker stops gracefully, then forcibly: SIGTERM finishes reporting, recording and
// deregistering while the coordinator answers, and gives up after --stop-grace-ms when it does not.
jest.setTimeout(60_000);

const args = (coordinator: string, dir: string) => [
  "--coordinator",
  coordinator,
  "--data-dir",
  `${dir}/data`,
  "--samples",
  "4000",
  "--epochs",
  "0",
  "--step-delay-ms",
  "20",
  "--checkpoint-every",
  "20",
  "--stop-grace-ms",
  "1500",
];

describe("strata-worker on SIGTERM", () => {
  let dir: string;
  let coordinator: CoordinatorProcess | undefined;
  let worker: WorkerProcess | undefined;

  beforeEach(() => {
    dir = makeTempDir("strata-stop-");
  });

  afterEach(async () => {
    await worker?.kill("SIGKILL");
    await coordinator?.stop("SIGKILL");
    removeDir(dir);
  });

  test("with the coordinator up: stops cleanly (exit 0), deregistered", async () => {
    coordinator = await startCoordinator(`${dir}/coordinator`);
    const events: WorkerEvent[] = [];
    worker = startWorker("stop-1", args(coordinator.grpc, dir), events);
    await worker.waitFor("a checkpoint", (e) => e.event === "checkpoint_committed");
    expect(await worker.kill("SIGTERM")).toBe(0);
    expect(events.map((e) => e.event)).toContain("stopped");
    expect(events.map((e) => e.event)).not.toContain("forced");
    const workers = (await (await fetch(`http://${coordinator.http}/api/workers`)).json()) as {
      id: string;
      alive: boolean;
      left: boolean;
    }[];
    // Deregistered: no longer alive, and the coordinator knows it left (not declared dead).
    expect(workers.find((w) => w.id === "stop-1")).toMatchObject({ alive: false, left: true });
  });

  test("with the coordinator gone: gives up after --stop-grace-ms (exit 1, a forced event)", async () => {
    coordinator = await startCoordinator(`${dir}/coordinator`);
    const events: WorkerEvent[] = [];
    worker = startWorker("stop-2", args(coordinator.grpc, dir), events);
    await worker.waitFor("a checkpoint", (e) => e.event === "checkpoint_committed");
    await coordinator.stop("SIGKILL");
    coordinator = undefined;
    await worker.waitFor("the disconnect", (e) => e.event === "disconnected");
    expect(await worker.kill("SIGTERM")).toBe(1);
    expect(events.find((e) => e.event === "forced")).toMatchObject({ graceMs: 1500 });
    expect(worker.stderr()).toContain("could not stop cleanly within 1500 ms");
  });
});
