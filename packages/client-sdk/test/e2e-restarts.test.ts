import { freePort } from "@strata/storage/testing";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinator,
} from "./helpers/coordinator-process.js";
import {
  ledgerProblems,
  startWorker,
  type WorkerEvent,
  type WorkerProcess,
} from "./helpers/worker-process.js";

// End to end with real processes: the whole job SIGKILLed and resumed from its checkpoint, and
// the coordinator SIGKILLed and restarted on the same data directory.
jest.setTimeout(120_000);

const SAMPLES = 8_000;
const SHARD_SIZE = 100;
const WORKERS = ["r-0", "r-1", "r-2", "r-3"];

/** `stepDelayMs`: extra time per step, so the job outlasts what a test does to it. */
const jobArgs = (coordinator: string, dir: string, extra: string[] = [], stepDelayMs = 20) => [
  "--coordinator",
  coordinator,
  "--data-dir",
  `${dir}/data`,
  "--storage",
  `file://${dir}/checkpoints`,
  "--job-id",
  "restarts",
  "--samples",
  String(SAMPLES),
  "--shard-size",
  String(SHARD_SIZE),
  "--batch-size",
  "16",
  "--checkpoint-every",
  "10",
  "--step-delay-ms",
  String(stepDelayMs),
  "--epochs",
  "1",
  "--log-samples",
  ...extra,
];

describe("restarts", () => {
  let dir: string;
  let coordinator: CoordinatorProcess | undefined;
  const processes: WorkerProcess[] = [];

  beforeEach(() => {
    dir = makeTempDir("strata-restart-");
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.kill("SIGKILL")));
    await coordinator?.stop("SIGKILL");
    coordinator = undefined;
    removeDir(dir);
  });

  test("every worker SIGKILLed past step S: the job resumes from S and every sample reaches the model exactly once counting from S", async () => {
    coordinator = await startCoordinator(`${dir}/coordinator`, {
      args: ["--heartbeat-timeout-ms", "1500"],
    });
    const first: WorkerEvent[] = [];
    const args = jobArgs(coordinator.grpc, dir);
    for (const id of WORKERS) processes.push(startWorker(id, args, first));
    // Past a complete checkpoint S, and some steps beyond it.
    const complete = await (processes[0] as WorkerProcess).waitFor(
      "a second complete checkpoint",
      (e) => e.event === "checkpoint_committed" && e.complete === true && (e.step as number) >= 20,
    );
    await (processes[0] as WorkerProcess).waitFor(
      "steps past it",
      (e) => e.event === "consumed" && (e.step as number) > (complete.step as number) + 3,
    );
    await Promise.all(processes.splice(0).map((p) => p.kill("SIGKILL")));

    const second: WorkerEvent[] = [];
    for (const id of WORKERS)
      processes.push(
        startWorker(
          id,
          jobArgs(coordinator.grpc, dir, ["--resume", "job", "--min-workers", "4"]),
          second,
        ),
      );
    const resumed = await Promise.all(
      processes.map((p) => p.waitFor("resumed", (e) => e.event === "resumed")),
    );
    const S = resumed[0]?.step as number;
    for (const r of resumed) {
      expect(r.step).toBe(S);
      expect(r.restored).toBe(true);
    }
    // S is the newest step that completed before the kill.
    const completedBefore = first
      .filter((e) => e.event === "checkpoint_committed" && e.complete === true)
      .map((e) => e.step as number);
    expect(S).toBe(Math.max(...completedBefore));
    // The loss curve continues where it left off: each worker's state is its part of S.
    for (const r of resumed) {
      const saved = first.find(
        (e) => e.event === "checkpoint" && e.step === S && e.workerId === r.workerId,
      );
      expect(r.loss).toBe(saved?.loss);
    }
    expect(await Promise.all(processes.map((p) => p.exited))).toEqual([0, 0, 0, 0]);

    // Samples consumed at steps ≤ S before the kill, plus everything after the resume: every
    // sample of the epoch exactly once. Samples consumed after S before the kill were served
    // again (so this is not vacuous).
    const beforeS = first.filter((e) => e.event === "consumed" && (e.step as number) <= S);
    const afterS = first.filter((e) => e.event === "consumed" && (e.step as number) > S);
    expect(afterS.length).toBeGreaterThan(0);
    const resumedRun = second.filter((e) => e.event === "consumed");
    expect(ledgerProblems([...beforeS, ...resumedRun], SAMPLES, SHARD_SIZE)).toEqual([]);
  });

  test("the coordinator SIGKILLed and restarted on its data directory: workers reconnect and the job finishes with nothing lost", async () => {
    const port = await freePort();
    const dataDir = `${dir}/coordinator`;
    const args = ["--heartbeat-timeout-ms", "3000"];
    coordinator = await startCoordinator(dataDir, { grpcPort: port, args });
    const events: WorkerEvent[] = [];
    // 125 steps of at least 60 ms each: no worker can finish its epoch before the kill (at 20 ms,
    // a worker that started 2-3 s before the others on a busy machine did).
    for (const id of WORKERS)
      processes.push(startWorker(id, jobArgs(`127.0.0.1:${port}`, dir, [], 60), events));
    // A complete checkpoint, whichever worker's part completed it.
    await Promise.any(
      processes.map((p) =>
        p.waitFor(
          "a complete checkpoint",
          (e) => e.event === "checkpoint_committed" && e.complete === true,
        ),
      ),
    );
    await coordinator.stop("SIGKILL");
    // Every worker notices (heartbeats fail), then the coordinator comes back on the same address.
    await Promise.all(
      processes.map((p) => p.waitFor("disconnected", (e) => e.event === "disconnected")),
    );
    coordinator = await startCoordinator(dataDir, { grpcPort: port, args });
    await Promise.all(
      processes.map((p) => p.waitFor("reconnected", (e) => e.event === "reconnected")),
    );

    expect(await Promise.all(processes.map((p) => p.exited))).toEqual([0, 0, 0, 0]);
    for (const p of processes) expect(p.events.some((e) => e.event === "done")).toBe(true);
    expect(ledgerProblems(events, SAMPLES, SHARD_SIZE)).toEqual([]);
  });
});
