/**
 * data-shard benchmark: our assignment and lookups against the `hashring` package (ketama, MD5,
 * 160 points per server), on the same keys, in one run. Prints absolute numbers, ratios, and
 * PASS/FAIL against issue 3's targets. Run: `pnpm --filter @strata/data-shard bench`.
 */
import HashRing from "hashring";
import {
  assignShards,
  createHashRing,
  diffShardPlans,
  ownerOf,
  type ShardPlan,
} from "../src/index.js";

const DATASET = "dataset-1";
const SEED = 42n;
const WARMUP = 3;
const RUNS = 9;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Median wall time (ms) of `fn` over RUNS runs after WARMUP warm-up runs. */
function timeMs(fn: () => void): number {
  for (let i = 0; i < WARMUP; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

function verdict(ok: boolean): string {
  return ok ? "PASS" : "FAIL";
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);
const workerIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `worker-${i}`);
const keysFor = (n: number): string[] => Array.from({ length: n }, (_, i) => `${DATASET}:${i}`);

function loadStats(loads: Iterable<number>): { min: number; max: number; mean: number } {
  const values = [...loads];
  const total = values.reduce((a, b) => a + b, 0);
  return { min: Math.min(...values), max: Math.max(...values), mean: total / values.length };
}

function peerLoads(
  ring: HashRing,
  keys: readonly string[],
  nodes: readonly string[],
): Map<string, number> {
  const counts = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const k of keys) {
    const owner = ring.get(k);
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

function peerOwners(ring: HashRing, keys: readonly string[]): string[] {
  return keys.map((k) => ring.get(k));
}

console.log(
  `data-shard benchmark (node ${process.version}; median of ${RUNS} runs after ${WARMUP} warm-ups)\n`,
);

// ---- 1. Assignment of 100,000 shards over 1,000 workers vs 100,000 peer lookups -------------
const BIG_SHARDS = 100_000;
const BIG_WORKERS = 1000;
const bigKeys = keysFor(BIG_SHARDS);
const bigWorkers = workerIds(BIG_WORKERS).map((workerId) => ({ workerId }));
const peer = new HashRing(workerIds(BIG_WORKERS));

const oursAssignMs = timeMs(() => {
  assignShards({
    datasetId: DATASET,
    epoch: 0,
    totalShards: BIG_SHARDS,
    seed: SEED,
    workers: bigWorkers,
  });
});
let sink = 0;
const peerLookupMs = timeMs(() => {
  for (const k of bigKeys) sink += peer.get(k).length;
});
const bigPlan = assignShards({
  datasetId: DATASET,
  epoch: 0,
  totalShards: BIG_SHARDS,
  seed: SEED,
  workers: bigWorkers,
});
const oursStickyMs = timeMs(() => {
  assignShards({
    datasetId: DATASET,
    epoch: 1,
    totalShards: BIG_SHARDS,
    seed: SEED,
    workers: bigWorkers.slice(1),
    previous: bigPlan,
  });
});
const assignRatio = oursAssignMs / peerLookupMs;
console.log("1. Assignment, 100,000 shards over 1,000 workers (same shard keys)");
console.log(`   ours assignShards (canonical, all shards)   ${fmt(oursAssignMs)} ms`);
console.log(`   ours assignShards (sticky, after one leave) ${fmt(oursStickyMs)} ms`);
console.log(`   hashring: 100,000 get() lookups             ${fmt(peerLookupMs)} ms`);
console.log(
  `   ratio ours/peer ${fmt(assignRatio, 3)} (target ≤ 0.200)  ${verdict(assignRatio <= 0.2)}` +
    `   [sticky ${fmt(oursStickyMs / peerLookupMs, 3)}]\n`,
);

// ---- 2. Single-key lookup rate ----------------------------------------------------------------
const ring = createHashRing();
for (const id of workerIds(BIG_WORKERS)) ring.addNode(id);
ring.getNode("warm");
const ringMs = timeMs(() => {
  for (const k of bigKeys) sink += (ring.getNode(k) as string).length;
});
const planMs = timeMs(() => {
  for (let s = 0; s < BIG_SHARDS; s++) sink += ownerOf(bigPlan, s).length;
});
const ringRate = BIG_SHARDS / (ringMs / 1000);
const planRate = BIG_SHARDS / (planMs / 1000);
const peerRate = BIG_SHARDS / (peerLookupMs / 1000);
console.log("2. Single-key lookups (the same 100,000 keys, 1,000 nodes)");
console.log(`   ours HashRing.getNode (XXH3-64, 160 vnodes) ${fmt(ringRate / 1e6, 2)} M lookups/s`);
console.log(`   ours ownerOf(plan, shardId)                 ${fmt(planRate / 1e6, 2)} M lookups/s`);
console.log(`   hashring get (MD5, 160 points)              ${fmt(peerRate / 1e6, 3)} M lookups/s`);
console.log(
  `   ratio ring/peer ${fmt(ringRate / peerRate, 1)}× (target ≥ 5×)  ${verdict(ringRate / peerRate >= 5)}` +
    `   [plan lookup ${fmt(planRate / peerRate, 0)}×]\n`,
);

// ---- 3. Balance and movement, 10,000 shards over 1,000 workers --------------------------------
const SHARDS = 10_000;
const WORKERS = 1000;
const keys = keysFor(SHARDS);
const ids = workerIds(WORKERS);
const specs = ids.map((workerId) => ({ workerId }));
const input = { datasetId: DATASET, epoch: 0, totalShards: SHARDS, seed: SEED };
const plan = assignShards({ ...input, workers: specs });
const ours = loadStats(plan.loads.values());
const peerSmall = new HashRing(ids);
const theirs = loadStats(peerLoads(peerSmall, keys, ids).values());
const balanced = ours.min >= 9 && ours.max <= 11;
console.log("3. Balance, 10,000 shards over 1,000 workers (target: every worker 9..11)");
console.log(
  `   ours      min ${ours.min}  max ${ours.max}  mean ${fmt(ours.mean)}  max/mean ${fmt(ours.max / ours.mean, 2)}  ${verdict(balanced)}`,
);
console.log(
  `   hashring  min ${theirs.min}  max ${theirs.max}  mean ${fmt(theirs.mean)}  max/mean ${fmt(theirs.max / theirs.mean, 2)}  ${verdict(theirs.min >= 9 && theirs.max <= 11)}\n`,
);

console.log("4. Movement when one worker leaves / joins, 10,000 shards over 1,000 workers");
console.log(
  "   ratio = moved / unavoidable minimum (leave: the leaver's shards; join: the joiner's shards)",
);
const LEAVERS = [0, 137, 501, 999].map((i) => ids[i] as string);
interface Movement {
  moved: number;
  minimum: number;
}
function worst(rows: Movement[]): number {
  return Math.max(...rows.map((r) => r.moved / Math.max(1, r.minimum)));
}
function mean(rows: Movement[]): number {
  return (
    rows.reduce((n, r) => n + r.moved, 0) / rows.reduce((n, r) => n + Math.max(1, r.minimum), 0)
  );
}
const canonical: Movement[] = [];
const sticky: Movement[] = [];
const ketama: Movement[] = [];
const peerBefore = peerOwners(peerSmall, keys);
for (const [k, leaver] of LEAVERS.entries()) {
  const joiner = `joiner-${k}`;
  // Leave.
  const left = specs.filter((w) => w.workerId !== leaver);
  const strictLeave = plan.loads.get(leaver) ?? 0;
  const c1 = diffShardPlans(plan, assignShards({ ...input, workers: left }));
  canonical.push({ moved: c1.moved, minimum: strictLeave });
  const s1 = diffShardPlans(plan, assignShards({ ...input, workers: left, previous: plan }));
  sticky.push({ moved: s1.moved, minimum: strictLeave });
  // Join.
  const joined = [...specs, { workerId: joiner }];
  const cPlan = assignShards({ ...input, workers: joined });
  canonical.push({
    moved: diffShardPlans(plan, cPlan).moved,
    minimum: cPlan.loads.get(joiner) ?? 0,
  });
  const sPlan = assignShards({ ...input, workers: joined, previous: plan });
  sticky.push({ moved: diffShardPlans(plan, sPlan).moved, minimum: sPlan.loads.get(joiner) ?? 0 });
  // Peer: leave, then (from the original ring) join.
  const leaveRing = new HashRing(ids.filter((id) => id !== leaver));
  const afterLeave = peerOwners(leaveRing, keys);
  ketama.push({
    moved: afterLeave.filter((o, i) => o !== peerBefore[i]).length,
    minimum: peerBefore.filter((o) => o === leaver).length,
  });
  const joinRing = new HashRing([...ids, joiner]);
  const afterJoin = peerOwners(joinRing, keys);
  ketama.push({
    moved: afterJoin.filter((o, i) => o !== peerBefore[i]).length,
    minimum: afterJoin.filter((o) => o === joiner).length,
  });
}
const describe = (rows: Movement[]): string =>
  rows.map((r) => `${r.moved}/${r.minimum}`).join(" ") +
  `  → mean ${fmt(mean(rows), 2)}, worst ${fmt(worst(rows), 2)}`;
console.log(
  `   ours sticky (previous plan)    ${describe(sticky)}  ${verdict(worst(sticky) <= 1.25)}`,
);
console.log(
  `   ours canonical (history-free)  ${describe(canonical)}  ${verdict(worst(canonical) <= 1.25)} (see README: bounds make a history-free plan re-balance)`,
);
console.log(
  `   hashring (unbounded loads)     ${describe(ketama)}  ${verdict(worst(ketama) <= 1.25)}`,
);

// Loads after the sticky changes stay within bounds.
const afterSticky: ShardPlan = assignShards({ ...input, workers: specs.slice(1), previous: plan });
const st = loadStats(afterSticky.loads.values());
console.log(`   ours sticky after a leave: loads ${st.min}..${st.max}\n`);
if (sink === -1) console.log(sink);
