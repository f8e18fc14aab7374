import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "@strata/storage/testing";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinator,
  waitFor,
} from "./helpers/coordinator-process.js";
import {
  ledgerProblems,
  startWorker,
  type WorkerEvent,
  type WorkerProcess,
} from "./helpers/worker-process.js";

// End to end with real processes: a coordinator and four strata-worker processes training one
// epoch; one worker is SIGKILLed mid-epoch and started again.
jest.setTimeout(120_000);

const HEARTBEAT_TIMEOUT_MS = 1_500;
const SAMPLES = 9_600;
const SHARD_SIZE = 100;
const WORKERS = ["w-0", "w-1", "w-2", "w-3"];

const jobArgs = (coordinator: string, dataDir: string, storage: string) => [
  "--coordinator",
  coordinator,
  "--data-dir",
  dataDir,
  "--storage",
  storage,
  "--job-id",
  "e2e",
  "--samples",
  String(SAMPLES),
  "--shard-size",
  String(SHARD_SIZE),
  "--batch-size",
  "16",
  "--checkpoint-every",
  "10",
  "--step-delay-ms",
  "20",
  "--epochs",
  "1",
  "--log-samples",
  "--log-every",
  "5",
];

interface Backend {
  name: string;
  storage(dir: string): string;
  env: Record<string, string>;
}

let s3: S3rverFixture | undefined;

const backends: Backend[] = [
  { name: "local disk", storage: (dir) => `${dir}/checkpoints`, env: {} },
  {
    name: "S3 (s3rver)",
    storage: () =>
      `s3://${s3?.bucket}/e2e?endpoint=${encodeURIComponent(s3?.endpoint ?? "")}&forcePathStyle=true`,
    env: {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: "us-east-1",
    },
  },
];

beforeAll(async () => {
  s3 = await startS3rver({ bucket: "strata-e2e" });
});

afterAll(async () => {
  await s3?.dispose();
});

async function metricValue(coordinator: CoordinatorProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://${coordinator.http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

describe.each(backends)("a worker killed mid-epoch ($name)", (backend) => {
  let dir: string;
  let coordinator: CoordinatorProcess;
  const processes: WorkerProcess[] = [];

  beforeAll(async () => {
    dir = makeTempDir("strata-e2e-");
    coordinator = await startCoordinator(`${dir}/coordinator`, {
      args: ["--heartbeat-timeout-ms", String(HEARTBEAT_TIMEOUT_MS)],
    });
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill("SIGKILL")));
    await coordinator.stop();
    removeDir(dir);
  });

  test("survivors learn in time, shards move, the epoch is read exactly once, the restarted worker resumes from the latest complete checkpoint", async () => {
    const events: WorkerEvent[] = [];
    const args = jobArgs(coordinator.grpc, `${dir}/data`, backend.storage(dir));
    for (const id of WORKERS) processes.push(startWorker(id, args, events, backend.env));
    const [, victim, ...rest] = processes as [WorkerProcess, WorkerProcess, ...WorkerProcess[]];
    const survivors = processes.filter((p) => p !== victim);

    // Mid-epoch: after a checkpoint all four completed, while the epoch is far from done.
    await victim.waitFor(
      "a complete checkpoint",
      (e) => e.event === "checkpoint_committed" && e.complete === true,
    );
    const movesBefore = await metricValue(coordinator, "strata_shard_moves_total");
    const victimConsumedBefore = events.filter(
      (e) => e.workerId === victim.workerId && e.event === "consumed",
    );
    expect(victimConsumedBefore.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    await victim.kill("SIGKILL");

    // Every survivor learns of the death within the heartbeat timeout (plus one sweep and one
    // heartbeat interval of slack).
    const learned = await Promise.all(
      survivors.map((s) =>
        s.waitFor(
          "the death",
          (e) => e.event === "membership" && e.worldSize === 3 && e.ts >= killedAt,
        ),
      ),
    );
    for (const e of learned) expect(e.ts - killedAt).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 1_500);
    // The dead worker's shards move to the survivors (re-planned when they next ask, at a shard
    // boundary), who keep checkpointing without it.
    await waitFor(
      "the dead worker's shards to move",
      async () => (await metricValue(coordinator, "strata_shard_moves_total")) > movesBefore,
      15_000,
    );
    const survivorCheckpoint = await rest[0]?.waitFor(
      "a checkpoint without the dead worker",
      (e) => e.event === "checkpoint" && e.parts === 3,
    );
    expect(survivorCheckpoint).toBeDefined();

    // Restart it: it re-joins and resumes from the latest complete checkpoint.
    const completeBefore = Math.max(
      ...events
        .filter((e) => e.event === "checkpoint_committed" && e.complete === true)
        .map((e) => e.step as number),
    );
    const again = startWorker(victim.workerId, args, events, backend.env);
    processes.push(again);
    const resumed = await again.waitFor("resumed", (e) => e.event === "resumed");
    expect(resumed.step as number).toBeGreaterThanOrEqual(completeBefore);
    expect(resumed.restored).toBe(false);

    // Everyone finishes the epoch; every sample was consumed exactly once.
    const codes = await Promise.all([...survivors, again].map((p) => p.exited));
    expect(codes).toEqual([0, 0, 0, 0]);
    for (const p of [...survivors, again])
      expect(p.events.some((e) => e.event === "done")).toBe(true);
    // The step it resumed from is one that completed (the completing part's answer says so).
    const completeSteps = new Set(
      events
        .filter((e) => e.event === "checkpoint_committed" && e.complete === true)
        .map((e) => e.step),
    );
    expect(completeSteps.has(resumed.step)).toBe(true);
    // Every sample exactly once (a report the victim was sending when it died may or may not
    // have been recorded; either way its samples are read once).
    expect(ledgerProblems(events, SAMPLES, SHARD_SIZE, new Set([victim.incarnation]))).toEqual([]);
    // The loss fell.
    const done = survivors.map((s) => s.events.find((e) => e.event === "done")?.loss as number);
    for (const loss of done) expect(loss).toBeLessThan(0.6);
  });
});
