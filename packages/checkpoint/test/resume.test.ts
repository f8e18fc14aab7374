import { readdir } from "node:fs/promises";
import path from "node:path";
import { Code, type RuntimeError } from "@strata/runtime-core";
import {
  createLocalStorage,
  createMemoryStorage,
  LocalStorage,
  type StorageBackend,
} from "@strata/storage";
import { type CheckpointManager, createCheckpointManager } from "../src/index.js";
import { keysOf, patternBytes, tempDir } from "./helpers.js";
import { KillSwitchStorage } from "./kill-switch-storage.js";

// Resume after a kill at every point of a save: a simulated process saves step N and is killed
// after its k-th write (for every k, covering the data, the rank manifest, the step manifest, the
// LATEST hint and the retention run after the commit); then a new process resumes the way the
// README's loop does (load the newest good checkpoint, save the next step) and must succeed,
// leaving exactly the checkpoints the policy keeps and no leftovers.

const JOB = "job";
const KEEP_LAST = 2;

/** The deterministic state of `rank` at `step`, so every byte can be checked after a resume. */
const stateOf = (step: number, rank: number) => ({
  step,
  epoch: Math.floor(step / 10),
  buffers: {
    weights: patternBytes(3_000 + step * 10, step * 100 + rank),
    optimizer: patternBytes(1_000, step * 100 + rank + 50),
  },
  metadata: { step, rank },
});

function managers(storage: StorageBackend, worldSize: number): CheckpointManager[] {
  return Array.from({ length: worldSize }, (_, rank) =>
    createCheckpointManager({
      storage,
      prefix: "ck",
      jobId: JOB,
      rank,
      worldSize,
      // The same policy on every rank: the rank that completes a step applies it at once.
      retention: { keepLast: KEEP_LAST },
    }),
  );
}

/** What the README's resume loop does first: the newest good checkpoint's step, if any. */
async function resumedStep(manager: CheckpointManager): Promise<number | undefined> {
  const loaded = await manager.load().catch((error: RuntimeError) => {
    if (error.code === Code.NotFound) return undefined;
    throw error;
  });
  return loaded?.step;
}

/** Saves `step` on every rank at once; resolves the refs (rejections are returned, not thrown). */
async function saveAll(ranks: CheckpointManager[], step: number) {
  return Promise.all(
    ranks.map(async (m) => {
      const handle = await m.save(stateOf(step, m.rank));
      return handle.committed.then(
        (ref) => ({ ok: true as const, ref }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    }),
  );
}

type Backend = "memory" | "local";
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function freshStorage(backend: Backend): Promise<StorageBackend> {
  if (backend === "memory") return createMemoryStorage();
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return createLocalStorage({ root: dir });
}

/** A job of `worldSize` ranks that committed steps 1..3 cleanly. */
async function seededStorage(
  worldSize: number,
  backend: Backend = "memory",
): Promise<StorageBackend> {
  const storage = await freshStorage(backend);
  const ranks = managers(storage, worldSize);
  for (const step of [1, 2, 3]) {
    const results = await saveAll(ranks, step);
    expect(results.every((r) => r.ok)).toBe(true);
  }
  await Promise.all(ranks.map((m) => m.close()));
  return storage;
}

/** The writes one save of step 4 (and the retention run after it) makes, on a fresh copy. */
async function writesOfOneSave(worldSize: number, backend: Backend): Promise<number> {
  const storage = new KillSwitchStorage(await seededStorage(worldSize, backend));
  const ranks = managers(storage, worldSize);
  await saveAll(ranks, 4);
  await Promise.all(ranks.map((m) => m.close()));
  return storage.writes;
}

/** Everything the job holds is a committed part of a complete step (or the LATEST hint). */
async function expectNoLeftovers(storage: StorageBackend, reader: CheckpointManager) {
  const complete = await reader.list();
  const owned = new Set<string>();
  for (const c of complete) {
    const d = await reader.describe(c.step);
    const stepDir = `ck/${JOB}/step-${String(c.step).padStart(12, "0")}/`;
    owned.add(`${stepDir}MANIFEST.json`);
    for (const r of d.step.ranks) owned.add(`${stepDir}${r.manifestKey}`);
    for (const r of d.ranks) {
      const rankDir = `${stepDir}rank-${String(r.rank).padStart(5, "0")}/`;
      for (const o of r.objects) owned.add(`${rankDir}${o.key}`);
    }
  }
  const leftovers = (await keysOf(storage, `ck/${JOB}/`)).filter(
    (k) => !owned.has(k) && k !== `ck/${JOB}/LATEST`,
  );
  expect(leftovers).toEqual([]);
  expect((await reader.list({ includePartial: true })).map((c) => c.state)).toEqual(
    complete.map(() => "complete"),
  );
  if (storage instanceof LocalStorage) expect(await emptyFolders(storage.root)).toEqual([]);
}

/** Folders under `root` (not `root` itself) with nothing in them. */
async function emptyFolders(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (entries.length === 0 && dir !== root) out.push(dir);
    for (const e of entries) if (e.isDirectory()) await walk(path.join(dir, e.name));
  };
  await walk(root);
  return out;
}

async function resumeAndCheck(
  inner: StorageBackend,
  worldSize: number,
  order: "together" | "rank-by-rank",
) {
  const ranks = managers(inner, worldSize);
  const resumed = await Promise.all(ranks.map(resumedStep));
  // Every rank falls back to the same step: 3, or 4 when the kill came after its commit.
  expect(new Set(resumed).size).toBe(1);
  const from = resumed[0] as number;
  expect([3, 4]).toContain(from);
  const next = from + 1;
  const results =
    order === "together"
      ? await saveAll(ranks, next)
      : await (async () => {
          const out = [];
          for (const m of ranks) out.push(...(await saveAll([m], next)));
          return out;
        })();
  for (const r of results) {
    if (!r.ok) throw r.error;
  }
  const refs = results.map((r) => (r.ok ? r.ref : undefined));
  // The step is committed; at least the rank that committed it used its own new attempt.
  expect(refs.some((ref) => ref?.stepComplete)).toBe(true);
  expect(refs.some((ref) => ref?.ownAttemptCommitted)).toBe(true);
  await Promise.all(ranks.map((m) => m.flush()));
  const reader = ranks[0] as CheckpointManager;
  expect((await reader.latest())?.step).toBe(next);
  for (const m of ranks) {
    const loaded = await reader.load(next, { rank: m.rank });
    expect(loaded.buffers).toEqual(stateOf(next, m.rank).buffers);
    expect(loaded.metadata).toEqual({ step: next, rank: m.rank });
  }
  for (const c of await reader.list()) expect((await reader.verify(c.step)).ok).toBe(true);
  // Retention ran after the commit: the newest KEEP_LAST steps, and nothing else.
  expect((await reader.list()).map((c) => c.step)).toEqual([next - 1, next].slice(-KEEP_LAST));
  await expectNoLeftovers(inner, reader);
  await Promise.all(ranks.map((m) => m.close()));
}

describe.each([
  [1, "together", "memory"],
  [2, "together", "memory"],
  [3, "together", "memory"],
  [2, "rank-by-rank", "memory"],
  [1, "together", "local"],
  [2, "together", "local"],
] as const)(
  "resume after a kill at every point of a save: %i rank(s), resumed %s, %s storage",
  (worldSize, order, backend) => {
    test("every kill point resumes: the next save commits, no AlreadyExists, no leftovers", async () => {
      const total = await writesOfOneSave(worldSize, backend);
      expect(total).toBeGreaterThanOrEqual(4 * worldSize); // packs, rank manifests, step manifest, LATEST
      for (let k = 0; k <= total; k++) {
        const inner = await seededStorage(worldSize, backend);
        const killSwitch = new KillSwitchStorage(inner, k);
        const dying = managers(killSwitch, worldSize);
        await saveAll(dying, 4);
        await Promise.all(dying.map((m) => m.flush().catch(() => undefined)));
        // Racing ranks may both try the step manifest, so the last few writes vary per run.
        if (k < total - worldSize) expect(killSwitch.killed).toBe(true);
        await resumeAndCheck(inner, worldSize, order).catch((error: unknown) => {
          throw new Error(`killed after write ${k} of ${total}: ${String(error)}`);
        });
      }
    });
  },
);

test("a new attempt at a partial step supersedes the earlier one (one rank)", async () => {
  const storage = createMemoryStorage();
  const first = createCheckpointManager({ storage, jobId: "j", stepCommit: "manual" });
  // A part committed, the step not: what a kill between the rank and step manifests leaves.
  await (await first.save({ step: 7, buffers: { x: patternBytes(100, 1) } })).committed;
  await first.close();
  const second = createCheckpointManager({ storage, jobId: "j" });
  expect(await second.latest()).toBeUndefined();
  const ref = await (await second.save({ step: 7, buffers: { x: patternBytes(100, 2) } }))
    .committed;
  expect(ref).toMatchObject({ stepComplete: true, ownAttemptCommitted: true });
  expect((await second.load(7)).buffers.x).toEqual(patternBytes(100, 2));
  // Saving a step this manager committed is still refused.
  const again = await second.save({ step: 7, buffers: { x: patternBytes(100, 3) } });
  await expect(again.committed).rejects.toMatchObject({ code: Code.AlreadyExists });
  await second.close();
});

describe("retention under repeated kills", () => {
  /** A small deterministic PRNG, so a failure reproduces. */
  function prng(seed: number): () => number {
    let x = seed >>> 0 || 1;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
  }

  test.each([1, 2])(
    "stays within keepLast plus the steps in flight over 60 kills (%i rank(s))",
    async (worldSize) => {
      const keepLast = 3;
      const storage = createMemoryStorage();
      const random = prng(42 + worldSize);
      let newest = 0;
      for (let life = 0; life < 60; life++) {
        // Kill this "process" after a random number of writes: mid-save, mid-commit, mid-retention.
        const killSwitch = new KillSwitchStorage(storage, Math.floor(random() * 12 * worldSize));
        const ranks = Array.from({ length: worldSize }, (_, rank) =>
          createCheckpointManager({
            storage: killSwitch,
            jobId: "j",
            rank,
            worldSize,
            maxInFlight: 2,
            retention: { keepLast },
          }),
        );
        const from = (await resumedStep(ranks[0] as CheckpointManager).catch(() => 0)) ?? 0;
        for (let step = from + 1; step <= from + 4 && !killSwitch.killed; step++) {
          await Promise.all(
            ranks.map(async (m) => {
              const handle = await m.save(stateOf(step, m.rank));
              handle.committed.catch(() => undefined);
            }),
          );
        }
        await Promise.all(ranks.map((m) => m.flush().catch(() => undefined)));
        await Promise.all(ranks.map((m) => m.close()));

        const reader = createCheckpointManager({ storage, jobId: "j" });
        const all = await reader.list({ includePartial: true });
        const count = (state: string) => all.filter((c) => c.state === state).length;
        const where = `after kill ${life + 1}: ${JSON.stringify(all.map((c) => [c.step, c.state]))}`;
        // keepLast, plus the step committed just before the kill whose retention run it cut short;
        // at most one step being deleted when the kill came, and the steps in flight: one being
        // written with one rank, up to maxInFlight with several (a rank may run ahead of another
        // by that many steps).
        expect({ where, complete: count("complete") <= keepLast + 1 }).toEqual({
          where,
          complete: true,
        });
        expect({ where, partial: count("partial") <= (worldSize === 1 ? 1 : 2) }).toEqual({
          where,
          partial: true,
        });
        expect({ where, deleting: count("deleting") <= 1 }).toEqual({ where, deleting: true });
        expect(count("corrupt")).toBe(0);
        const latest = await reader.latest();
        expect(latest?.step ?? 0).toBeGreaterThanOrEqual(newest); // nothing committed is lost
        newest = latest?.step ?? 0;
        await reader.close();
      }
      expect(newest).toBeGreaterThan(20); // the job made progress despite the kills
    },
  );
});
