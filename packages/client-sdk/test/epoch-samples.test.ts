import { once } from "node:events";
import {
  connectWorker,
  type DatasetHandle,
  type EpochSamples,
  type ProgressReport,
  positionToJson,
  type StrataWorker,
} from "../src/index.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinator,
  waitFor,
} from "./helpers/coordinator-process.js";

let coordinator: CoordinatorProcess;
let dataDir: string;
const workers: StrataWorker[] = [];

async function worker(id: string): Promise<StrataWorker> {
  const w = await connectWorker({ addresses: coordinator.grpc, workerId: id, resources: false });
  workers.push(w);
  return w;
}

/** Reads every batch of `samples`, yielding to the event loop between batches like a training step. */
async function drain(samples: EpochSamples, batch: number, into: number[], stopAfter = Infinity) {
  let n = 0;
  for await (const b of samples.batches(batch)) {
    for (const s of b) into.push(s.index);
    await new Promise((r) => setImmediate(r));
    if (++n >= stopAfter) break;
  }
}

function expectExactlyOnce(indices: number[], total: number): void {
  const sorted = [...indices].sort((a, b) => a - b);
  expect(sorted.length).toBe(total);
  expect(sorted).toEqual([...Array(total).keys()]);
}

beforeAll(async () => {
  dataDir = makeTempDir();
  coordinator = await startCoordinator(dataDir, { args: ["--heartbeat-timeout-ms", "1200"] });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

afterAll(async () => {
  await coordinator.stop();
  removeDir(dataDir);
});

const spec = (id: string) => ({
  datasetId: id,
  path: `/data/${id}`,
  format: "bin",
  totalSamples: 1_000,
  shardSize: 40,
  shuffle: true,
  seed: 11n,
});

describe("EpochSamples", () => {
  test("two workers and one joining mid-epoch read every sample exactly once", async () => {
    const a = await worker("s-a");
    const b = await worker("s-b");
    const dataset: DatasetHandle = await a.registerDataset(spec("join-ds"));
    expect(dataset.totalShards).toBe(25);
    const seen: number[] = [];
    const readA = drain(a.samples(dataset, 0, { reportEvery: 16 }), 8, seen);
    const readB = drain(b.samples(dataset, 0, { reportEvery: 16 }), 8, seen);
    // Join while both are reading: the shards they started stay theirs (claimed).
    await new Promise((r) => setTimeout(r, 20));
    const c = await worker("s-c");
    const readC = drain(c.samples(await c.registerDataset(spec("join-ds")), 0), 8, seen);
    await Promise.all([readA, readB, readC]);
    // A worker whose iteration ended before the join picks up what moved to it on a second pass.
    for (const w of [a, b, c]) await drain(w.samples(dataset, 0), 8, seen);
    expectExactlyOnce(seen, 1_000);
    const position = positionToJson(await a.dataPosition("join-ds", 0));
    expect(position.consumedSamples).toBe(1_000);
  });

  test("a dead worker's unreported samples are served to a survivor; reported ones are not", async () => {
    const survivor = await worker("s-survivor");
    const doomed = await worker("s-doomed");
    // No shuffle: positions are sample indices, so reports and samples compare directly.
    const dataset = await survivor.registerDataset({ ...spec("death-ds"), shuffle: false });
    const reportedByDoomed: number[] = [];
    const deliveredToDoomed: number[] = [];
    const doomedSamples = doomed.samples(dataset, 0, {
      reportEvery: 10,
      onReport: (r: ProgressReport) => {
        for (const range of r.ranges)
          for (let p = range.start; p < range.end; p++) reportedByDoomed.push(p);
      },
    });
    // The doomed worker reads 13 batches of 4 (reports every 10), then dies without a word.
    await drain(doomedSamples, 4, deliveredToDoomed, 13);
    doomed.abandon();
    const seen: number[] = [];
    await drain(survivor.samples(dataset, 0), 8, seen);
    // After the heartbeat timeout the survivor learns of the death and the rest moves to it.
    const joinedAt = doomed.membershipVersion;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (survivor.membershipVersion <= joinedAt || survivor.worldSize !== 1) return;
        survivor.off("membership", check);
        resolve();
      };
      survivor.on("membership", check);
      check();
    });
    await drain(survivor.samples(dataset, 0), 8, seen);

    expect(reportedByDoomed.length).toBeGreaterThan(0);
    expect(deliveredToDoomed.length).toBeGreaterThan(reportedByDoomed.length);
    expectExactlyOnce([...seen, ...reportedByDoomed], 1_000);
    // What the doomed worker read but never reported was read again by the survivor.
    const unreported = deliveredToDoomed.filter((i) => !reportedByDoomed.includes(i));
    expect(unreported.length).toBeGreaterThan(0);
    for (const i of unreported) expect(seen).toContain(i);
    const position = positionToJson(await survivor.dataPosition("death-ds", 0));
    expect(position.consumedSamples).toBe(1_000);
  });

  test("restoring a data position serves again exactly the samples read after it", async () => {
    const a = await worker("s-restore");
    await waitFor("the only live worker", () => a.worldSize === 1);
    const dataset = await a.registerDataset({ ...spec("restore-ds"), shuffle: false });
    const before: number[] = [];
    const samples = a.samples(dataset, 0, { reportEvery: 1_000 });
    const iterator = samples.batches(10)[Symbol.asyncIterator]();
    for (let i = 0; i < 30; i++) {
      const r = await iterator.next();
      for (const s of r.value ?? []) before.push(s.index);
    }
    await samples.flush();
    const saved = await a.dataPosition("restore-ds", 0);
    expect(Number(saved.consumedSamples)).toBe(300);
    const after: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await iterator.next();
      for (const s of r.value ?? []) after.push(s.index);
    }
    await samples.flush();
    await iterator.return?.();
    const changed = once(a, "membership");
    await a.restoreDataPosition(saved);
    await changed;
    const again: number[] = [];
    await drain(a.samples(dataset, 0), 16, again);
    expect(again.length).toBe(700);
    for (const i of after) expect(again).toContain(i);
    expectExactlyOnce([...before, ...again], 1_000);
  });
});
