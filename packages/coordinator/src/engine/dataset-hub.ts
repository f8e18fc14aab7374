import { parseShardPlan, type ShardPlan, serializeShardPlan } from "@strata/data-shard";
import {
  Code,
  type DatasetSpec,
  type Logger,
  RuntimeError,
  type SampleRange,
} from "@strata/runtime-core";
import type {
  StoredDataset,
  StoredShardPlan,
  StoredShardProgress,
  StoreOp,
} from "../store/coordinator-store.js";
import type { StateView } from "./draft.js";
import type { EventFeed } from "./event-feed.js";
import { mergeRanges, rangesLength, remainingRanges } from "./sample-ranges.js";
import { assignOwners, shardReadingOrder, totalShardsOf } from "./shard-assigner.js";
import type { DatasetView, EngineCounters, EngineShardAssignment } from "./types.js";

interface Plan {
  membershipVersion: number;
  computedAtMs: number;
  workers: readonly string[];
  /** Owner index into `workers` per shard; −1 for complete shards or no workers. */
  owners: Int32Array;
  /** Each worker's shards in reading order (complete shards leave the list). */
  byWorker: Map<string, number[]>;
}

interface EpochState {
  epoch: number;
  consumed: Map<number, SampleRange[]>;
  consumedCount: Map<number, number>;
  totalConsumed: number;
  completeShards: number;
  /** Shard → the worker the unconsumed rest is pinned to. */
  pins: Map<number, string>;
  /** A cache, recomputed when membership changes; never stored. */
  plan: Plan | undefined;
}

interface DatasetEntry {
  spec: DatasetSpec;
  totalShards: number;
  registeredAtMs: number;
  epochs: Map<number, EpochState>;
  /**
   * The shard ownership in force (data-shard's plan; ownership does not depend on the epoch).
   * Each re-plan passes it as `previous`, so a membership change moves only the shards it must;
   * it is stored so a restarted coordinator keeps the same owners.
   */
  ownership: ShardPlan | undefined;
}

/** What the dataset hub reads about membership (committed). */
export interface DatasetMembership {
  version(): number;
  /** The membership version right after the most recent death or departure (0 if none). */
  lastDepartureVersion(): number;
  /** Live worker ids, sorted. */
  sortedLiveWorkerIds(): readonly string[];
}

/** Options of {@link DatasetHub}. */
export interface DatasetHubOptions {
  logger: Logger;
  events: EventFeed;
  counters: EngineCounters;
  membership: DatasetMembership;
  maxDatasets: number;
  maxShardsPerDataset: number;
  maxEpochsPerDataset: number;
  epsilon: number | undefined;
  /**
   * Stores a re-plan's new ownership through the commit pipeline. A plan is derived data (a pure
   * function of the live workers and the previous ownership), so it is served at once; storing it
   * only keeps movement minimal across a restart.
   */
  persistOwnership: (op: StoreOp) => void;
  now: () => number;
  /** See `CoordinatorEngineOptions.minReplanIntervalMs`. */
  minReplanIntervalMs: number;
}

/** A planned progress report. */
export interface PlannedReport {
  ops: StoreOp[];
  consumedSamples: number;
  shardComplete: boolean;
  newlyConsumed: number;
}

/** Most shards in one page of an assignment (GetShardAssignments caps `page_size` here). */
export const MAX_ASSIGNMENT_PAGE = 100_000;
/** Default shards per page of an assignment. */
export const DEFAULT_ASSIGNMENT_PAGE = 10_000;

/**
 * Datasets, per-epoch plans and shard progress. A plan assigns every shard not yet fully consumed
 * to one live worker: the bounded-load assignment over the sorted live workers, except that a
 * shard a worker has started (reported progress on) stays pinned to that worker while it lives.
 * When the pinned worker dies or leaves, only the unconsumed remainder goes back into the
 * assignment over the survivors, so within an epoch no reported sample is handed out twice and
 * none is skipped.
 *
 * Memory changes only through {@link DatasetHub.apply} of committed ops; `plan*` methods compute
 * ops. Plans are caches derived from committed state.
 */
export class DatasetHub {
  readonly #datasets = new Map<string, DatasetEntry>();

  constructor(private readonly o: DatasetHubOptions) {}

  get count(): number {
    return this.#datasets.size;
  }

  restore(
    datasets: readonly StoredDataset[],
    progress: readonly StoredShardProgress[],
    plans: readonly StoredShardPlan[] = [],
  ): void {
    for (const d of datasets) this.#addDataset(d);
    for (const p of plans) this.#setOwnership(p);
    for (const p of progress) this.#putProgress(p);
  }

  // ------------------------------------------------------------------ committed state (reads)

  stored(datasetId: string): StoredDataset | undefined {
    const e = this.#datasets.get(datasetId);
    return e === undefined
      ? undefined
      : { spec: e.spec, totalShards: e.totalShards, registeredAtMs: e.registeredAtMs };
  }

  storedProgress(
    datasetId: string,
    epoch: number,
    shardId: number,
  ): StoredShardProgress | undefined {
    const state = this.#datasets.get(datasetId)?.epochs.get(epoch);
    const consumed = state?.consumed.get(shardId);
    const owner = state?.pins.get(shardId);
    if (consumed === undefined && owner === undefined) return undefined;
    return { datasetId, epoch, shardId, consumed: consumed ?? [], ownerWorkerId: owner ?? "" };
  }

  has(datasetId: string): boolean {
    return this.#datasets.has(datasetId);
  }

  datasetIds(): string[] {
    return [...this.#datasets.keys()];
  }

  /** Whether every shard of the epoch was consumed. */
  epochComplete(datasetId: string, epoch: number): boolean {
    const entry = this.#datasets.get(datasetId);
    const state = entry?.epochs.get(epoch);
    return entry !== undefined && state !== undefined && state.completeShards === entry.totalShards;
  }

  // ------------------------------------------------------------------ planning

  /**
   * Plans a dataset registration. The same spec again is a no-op (no ops); a different spec under
   * the same id is ALREADY_EXISTS naming the fields; RESOURCE_EXHAUSTED at `maxDatasets`;
   * INVALID_ARGUMENT (field `shardSize`) beyond `maxShardsPerDataset`.
   */
  planRegister(
    view: StateView,
    spec: DatasetSpec,
    nowMs: number,
  ): { ops: StoreOp[]; totalShards: number; created: boolean } {
    const existing = view.dataset(spec.datasetId);
    if (existing !== undefined) {
      const differs = specDifferences(existing.spec, spec);
      if (differs.length > 0) {
        throw new RuntimeError(
          `dataset "${spec.datasetId}" is already registered with a different spec (differs in: ${differs.join(", ")})`,
          { code: Code.AlreadyExists, details: { datasetId: spec.datasetId, fields: differs } },
        );
      }
      return { ops: [], totalShards: existing.totalShards, created: false };
    }
    if (view.datasetCount() >= this.o.maxDatasets) {
      throw new RuntimeError(
        `too many datasets (${this.o.maxDatasets}); dataset "${spec.datasetId}" was not registered`,
        { code: Code.ResourceExhausted, details: { maxDatasets: this.o.maxDatasets } },
      );
    }
    const totalShards = totalShardsOf(spec.totalSamples, spec.shardSize);
    if (totalShards > this.o.maxShardsPerDataset) {
      throw new RuntimeError(
        `shardSize ${spec.shardSize} gives ${totalShards} shards for ${spec.totalSamples} samples, more than the limit of ${this.o.maxShardsPerDataset}; use bigger shards`,
        {
          code: Code.InvalidArgument,
          details: {
            field: "shardSize",
            totalShards,
            maxShardsPerDataset: this.o.maxShardsPerDataset,
          },
        },
      );
    }
    return {
      ops: [{ t: "put_dataset", dataset: { spec, totalShards, registeredAtMs: nowMs } }],
      totalShards,
      created: true,
    };
  }

  /**
   * Plans a progress report: consumed ranges of one shard, the rest pinned to `workerId`.
   * Refuses a shard the current plan gives to another worker (FAILED_PRECONDITION) and ranges
   * outside the shard (OUT_OF_RANGE); a report on a complete shard is a no-op.
   */
  planReport(
    view: StateView,
    workerId: string,
    datasetId: string,
    epoch: number,
    shardId: number,
    ranges: readonly SampleRange[] | undefined,
    upTo: number | undefined,
    reporterVersion: number | undefined,
  ): PlannedReport {
    const entry = this.#dataset(datasetId);
    if (!Number.isSafeInteger(shardId) || shardId < 0 || shardId >= entry.totalShards) {
      throw new RuntimeError(
        `shard ${shardId} is out of range for dataset "${datasetId}" (0…${entry.totalShards - 1})`,
        { code: Code.OutOfRange, details: { datasetId, shardId, totalShards: entry.totalShards } },
      );
    }
    const start = shardId * entry.spec.shardSize;
    const end = start + shardSizeOf(entry, shardId);
    const reported: SampleRange[] = [];
    if (upTo !== undefined) {
      if (upTo < start || upTo > end) {
        throw new RuntimeError(
          `upTo ${upTo} is outside shard ${shardId} of dataset "${datasetId}" [${start}, ${end}]`,
          { code: Code.OutOfRange, details: { datasetId, shardId, upTo, start, end } },
        );
      }
      reported.push({ start, end: upTo });
    }
    for (const r of ranges ?? []) {
      if (r.start < start || r.end > end || r.start > r.end) {
        throw new RuntimeError(
          `range [${r.start}, ${r.end}) is outside shard ${shardId} of dataset "${datasetId}" [${start}, ${end})`,
          { code: Code.OutOfRange, details: { datasetId, shardId, range: r, start, end } },
        );
      }
      reported.push(r);
    }
    const state = this.#epochFor(entry, epoch);
    const plan = this.#plan(entry, state);
    const before = view.progress(datasetId, epoch, shardId);
    const beforeCount = before === undefined ? 0 : rangesLength(before.consumed);
    const alreadyComplete = beforeCount === end - start;
    const ownerIndex = plan.owners[shardId] ?? -1;
    const owner = ownerIndex >= 0 ? plan.workers[ownerIndex] : undefined;
    if (!alreadyComplete && owner !== workerId && before?.ownerWorkerId !== workerId) {
      const stale =
        reporterVersion !== undefined &&
        reporterVersion !== 0 &&
        reporterVersion !== plan.membershipVersion;
      throw new RuntimeError(
        `shard ${shardId} of dataset "${datasetId}" epoch ${epoch} is assigned to ${owner === undefined ? "no worker" : `worker "${owner}"`}, not "${workerId}" (membership version ${plan.membershipVersion}${stale ? `; the report came from version ${reporterVersion}` : ""}); ask for your assignment again`,
        {
          code: Code.FailedPrecondition,
          details: { datasetId, epoch, shardId, owner, membershipVersion: plan.membershipVersion },
        },
      );
    }
    if (alreadyComplete) {
      return { ops: [], consumedSamples: beforeCount, shardComplete: true, newlyConsumed: 0 };
    }
    const merged = mergeRanges([...(before?.consumed ?? []), ...reported]);
    const after = rangesLength(merged);
    const shardComplete = after === end - start;
    const ops: StoreOp[] = [
      {
        t: "put_shard_progress",
        progress: {
          datasetId,
          epoch,
          shardId,
          consumed: merged,
          ownerWorkerId: shardComplete ? "" : workerId,
        },
      },
    ];
    // Progress of at most maxEpochsPerDataset epochs is kept: the oldest go with this write.
    const withProgress = new Set<number>([epoch]);
    for (const [e, s] of entry.epochs) if (s.consumed.size > 0) withProgress.add(e);
    if (withProgress.size > this.o.maxEpochsPerDataset) {
      const kept = [...withProgress].sort((a, b) => b - a).slice(0, this.o.maxEpochsPerDataset);
      ops.push({
        t: "delete_shard_progress_before",
        datasetId,
        beforeEpoch: Math.min(...kept),
      });
    }
    return { ops, consumedSamples: after, shardComplete, newlyConsumed: after - beforeCount };
  }

  /**
   * Plans putting a dataset's progress back to `position` (run in a batch of its own): the
   * epoch's consumed ranges become exactly the position's (pins and plan dropped) and progress of
   * later epochs is forgotten. INVALID_ARGUMENT naming the field when the position does not fit.
   */
  planRestore(position: EpochPositionData): {
    ops: StoreOp[];
    consumedSamples: number;
    forgottenEpochs: number[];
  } {
    const entry = this.#dataset(position.datasetId);
    const { datasetId, epoch } = position;
    if (position.totalShards !== entry.totalShards) {
      throw new RuntimeError(
        `position.total_shards ${position.totalShards} does not match dataset "${datasetId}" (${entry.totalShards} shards); the position belongs to another registration`,
        { code: Code.InvalidArgument, details: { field: "position.total_shards" } },
      );
    }
    const bytes = Math.ceil(entry.totalShards / 8);
    if (position.completeShards.length !== bytes) {
      throw new RuntimeError(
        `position.complete_shards must have ${bytes} bytes for ${entry.totalShards} shards, got ${position.completeShards.length}`,
        { code: Code.InvalidArgument, details: { field: "position.complete_shards" } },
      );
    }
    const consumed = new Map<number, SampleRange[]>();
    const bits = position.completeShards;
    for (let byte = 0; byte < bits.length; byte++) {
      const value = bits[byte] as number;
      if (value === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((value & (1 << bit)) === 0) continue;
        const shardId = byte * 8 + bit;
        if (shardId >= entry.totalShards) {
          throw new RuntimeError(
            `position.complete_shards marks shard ${shardId}, beyond the dataset's ${entry.totalShards} shards`,
            { code: Code.InvalidArgument, details: { field: "position.complete_shards" } },
          );
        }
        const start = shardId * entry.spec.shardSize;
        consumed.set(shardId, [{ start, end: start + shardSizeOf(entry, shardId) }]);
      }
    }
    for (const p of position.partialShards) {
      if (!Number.isSafeInteger(p.shardId) || p.shardId < 0 || p.shardId >= entry.totalShards) {
        throw new RuntimeError(
          `position.partial_shards names shard ${p.shardId}, outside 0…${entry.totalShards - 1}`,
          { code: Code.InvalidArgument, details: { field: "position.partial_shards.shard_id" } },
        );
      }
      const start = p.shardId * entry.spec.shardSize;
      const end = start + shardSizeOf(entry, p.shardId);
      for (const r of p.consumed) {
        if (r.start < start || r.end > end || r.start > r.end) {
          throw new RuntimeError(
            `position.partial_shards: range [${r.start}, ${r.end}) is outside shard ${p.shardId} [${start}, ${end})`,
            { code: Code.InvalidArgument, details: { field: "position.partial_shards.consumed" } },
          );
        }
      }
      consumed.set(p.shardId, mergeRanges([...(consumed.get(p.shardId) ?? []), ...p.consumed]));
    }
    const forgottenEpochs = [...entry.epochs.entries()]
      .filter(([e, s]) => e > epoch && s.consumed.size > 0)
      .map(([e]) => e)
      .sort((a, b) => a - b);
    const ops: StoreOp[] = [{ t: "delete_shard_progress_from", datasetId, fromEpoch: epoch }];
    let consumedSamples = 0;
    for (const [shardId, ranges] of consumed) {
      consumedSamples += rangesLength(ranges);
      ops.push({
        t: "put_shard_progress",
        progress: { datasetId, epoch, shardId, consumed: ranges, ownerWorkerId: "" },
      });
    }
    return { ops, consumedSamples, forgottenEpochs };
  }

  /**
   * Plans unpinning a departing worker's shards (committed pins and pins planned earlier in the
   * batch), so the survivors take their remainder.
   */
  planMemberGone(
    view: StateView,
    workerId: string,
    pending: Iterable<StoredShardProgress>,
  ): StoreOp[] {
    const ops: StoreOp[] = [];
    const seen = new Set<string>();
    const unpin = (datasetId: string, epoch: number, shardId: number) => {
      const key = `${datasetId}\u0000${epoch}\u0000${shardId}`;
      if (seen.has(key)) return;
      seen.add(key);
      const current = view.progress(datasetId, epoch, shardId);
      if (current?.ownerWorkerId !== workerId) return;
      ops.push({ t: "put_shard_progress", progress: { ...current, ownerWorkerId: "" } });
    };
    for (const entry of this.#datasets.values()) {
      for (const state of entry.epochs.values()) {
        for (const [shardId, owner] of state.pins) {
          if (owner === workerId) unpin(entry.spec.datasetId, state.epoch, shardId);
        }
      }
    }
    for (const p of pending) {
      if (p.ownerWorkerId === workerId) unpin(p.datasetId, p.epoch, p.shardId);
    }
    return ops;
  }

  // ------------------------------------------------------------------ applying committed ops

  /** Applies a committed dataset op to memory. Other ops are ignored. */
  apply(op: StoreOp): void {
    switch (op.t) {
      case "put_dataset":
        this.#addDataset(op.dataset);
        return;
      case "put_shard_progress":
        this.#putProgress(op.progress);
        return;
      case "put_shard_plan":
        // Memory already holds the ownership (it was served when computed).
        return;
      case "delete_shard_progress_before": {
        const entry = this.#datasets.get(op.datasetId);
        if (entry === undefined) return;
        for (const e of [...entry.epochs.keys()]) if (e < op.beforeEpoch) entry.epochs.delete(e);
        return;
      }
      case "delete_shard_progress_from": {
        const entry = this.#datasets.get(op.datasetId);
        if (entry === undefined) return;
        for (const e of [...entry.epochs.keys()]) if (e >= op.fromEpoch) entry.epochs.delete(e);
        return;
      }
      default:
        return;
    }
  }

  #addDataset(d: StoredDataset): void {
    if (this.#datasets.has(d.spec.datasetId)) return;
    this.#datasets.set(d.spec.datasetId, {
      spec: d.spec,
      totalShards: d.totalShards,
      registeredAtMs: d.registeredAtMs,
      epochs: new Map(),
      ownership: undefined,
    });
  }

  #setOwnership(p: StoredShardPlan): void {
    const entry = this.#datasets.get(p.datasetId);
    if (entry === undefined) return;
    try {
      const plan = parseShardPlan(p.plan);
      if (plan.datasetId === p.datasetId && plan.totalShards === entry.totalShards) {
        entry.ownership = plan;
      }
    } catch (error) {
      // A plan we cannot read only costs movement: the next re-plan starts history-free.
      this.o.logger.warn(
        { err: error, datasetId: p.datasetId },
        "ignoring unreadable stored shard plan",
      );
    }
  }

  #putProgress(p: StoredShardProgress): void {
    const entry = this.#datasets.get(p.datasetId);
    if (entry === undefined || p.shardId >= entry.totalShards) return;
    const state = this.#epochFor(entry, p.epoch);
    const wasComplete = (state.consumedCount.get(p.shardId) ?? 0) === shardSizeOf(entry, p.shardId);
    this.#setConsumed(entry, state, p.shardId, mergeRanges(p.consumed));
    if (p.ownerWorkerId === "") state.pins.delete(p.shardId);
    else state.pins.set(p.shardId, p.ownerWorkerId);
    const complete = (state.consumedCount.get(p.shardId) ?? 0) === shardSizeOf(entry, p.shardId);
    if (complete && !wasComplete && state.plan !== undefined) {
      // The plan stays valid; the complete shard simply leaves its owner's list.
      const index = state.plan.owners[p.shardId] ?? -1;
      const owner = index >= 0 ? state.plan.workers[index] : undefined;
      const list = owner === undefined ? undefined : state.plan.byWorker.get(owner);
      if (list !== undefined) {
        const i = list.indexOf(p.shardId);
        if (i >= 0) list.splice(i, 1);
      }
      state.plan.owners[p.shardId] = -1;
    }
  }

  // ------------------------------------------------------------------ reads

  /**
   * One page of a worker's shards for an epoch in reading order (fully consumed shards left
   * out): `offset` into the worker's list, at most `limit` shards. `assignedShards` counts the
   * whole list.
   */
  assignments(
    workerId: string,
    datasetId: string,
    epoch: number,
    offset = 0,
    limit = Number.MAX_SAFE_INTEGER,
  ): {
    totalShards: number;
    assignments: EngineShardAssignment[];
    membershipVersion: number;
    assignedShards: number;
  } {
    const entry = this.#dataset(datasetId);
    const state = this.#epochFor(entry, epoch);
    const plan = this.#plan(entry, state);
    const shardIds = plan.byWorker.get(workerId) ?? [];
    const filePaths = Object.freeze([entry.spec.path]);
    const assignments: EngineShardAssignment[] = [];
    const end = Math.min(shardIds.length, offset + limit);
    for (let i = offset; i < end; i++) {
      const shardId = shardIds[i] as number;
      const start = shardId * entry.spec.shardSize;
      const stop = start + shardSizeOf(entry, shardId);
      const consumed = state.consumed.get(shardId);
      assignments.push({
        datasetId,
        shardId,
        totalShards: entry.totalShards,
        startIndex: start,
        endIndex: stop,
        epoch,
        filePaths,
        remainingRanges:
          consumed === undefined ? [{ start, end: stop }] : remainingRanges(start, stop, consumed),
        consumedSamples: state.consumedCount.get(shardId) ?? 0,
      });
    }
    return {
      totalShards: entry.totalShards,
      assignments,
      membershipVersion: plan.membershipVersion,
      assignedShards: shardIds.length,
    };
  }

  /**
   * The data position of one epoch: complete shards as a bitmap (bit i of byte i/8, least
   * significant first) and partly consumed shards with their ranges. NOT_FOUND for an unknown
   * dataset; an epoch with no progress gives an empty position.
   */
  position(datasetId: string, epoch: number): EpochPositionData {
    const entry = this.#dataset(datasetId);
    const complete = new Uint8Array(Math.ceil(entry.totalShards / 8));
    const partial: { shardId: number; consumed: readonly SampleRange[] }[] = [];
    const state = entry.epochs.get(epoch);
    let consumedSamples = 0;
    if (state !== undefined) {
      for (const [shardId, count] of state.consumedCount) {
        if (count === 0) continue;
        consumedSamples += count;
        if (count === shardSizeOf(entry, shardId)) {
          complete[shardId >>> 3] = (complete[shardId >>> 3] as number) | (1 << (shardId & 7));
        } else {
          partial.push({ shardId, consumed: state.consumed.get(shardId) ?? [] });
        }
      }
    }
    partial.sort((a, b) => a.shardId - b.shardId);
    return {
      datasetId,
      epoch,
      totalShards: entry.totalShards,
      completeShards: complete,
      partialShards: partial,
      consumedSamples,
    };
  }

  /**
   * One page of an epoch's shard map (default epoch: the newest with progress or a plan, else 0):
   * owner per shard (index into `workers`, −1 for none), consumed samples, pinned or not, plus
   * shards per worker over the whole plan. Computes the plan if the epoch has none yet.
   */
  shardMap(
    datasetId: string,
    epochOrLatest: number | undefined,
    offset: number,
    limit: number,
  ): ShardMapPage {
    const entry = this.#dataset(datasetId);
    const epoch = epochOrLatest ?? (entry.epochs.size === 0 ? 0 : Math.max(...entry.epochs.keys()));
    const state = this.#epochFor(entry, epoch);
    const plan = this.#plan(entry, state);
    const end = Math.min(entry.totalShards, offset + limit);
    const workers: string[] = [];
    const remap = new Map<number, number>();
    const owner: number[] = [];
    const consumed: number[] = [];
    const pinned: boolean[] = [];
    for (let shardId = offset; shardId < end; shardId++) {
      const index = plan.owners[shardId] ?? -1;
      let mapped = -1;
      if (index >= 0) {
        mapped = remap.get(index) ?? -1;
        if (mapped < 0) {
          mapped = workers.length;
          remap.set(index, mapped);
          workers.push(plan.workers[index] as string);
        }
      }
      owner.push(mapped);
      consumed.push(state.consumedCount.get(shardId) ?? 0);
      pinned.push(state.pins.has(shardId));
    }
    const shardsPerWorker: Record<string, number> = {};
    for (const [workerId, list] of plan.byWorker) shardsPerWorker[workerId] = list.length;
    return {
      epoch,
      membershipVersion: plan.membershipVersion,
      totalShards: entry.totalShards,
      offset,
      workers,
      owner,
      consumed,
      pinned,
      shardsPerWorker,
    };
  }

  /**
   * Shards each worker holds (not fully consumed) in the newest planned epoch of every dataset,
   * summed over datasets. Reads existing plans only (never computes one).
   */
  assignedShardCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const entry of this.#datasets.values()) {
      let newest: EpochState | undefined;
      for (const state of entry.epochs.values()) {
        if (state.plan !== undefined && (newest === undefined || state.epoch > newest.epoch)) {
          newest = state;
        }
      }
      if (newest?.plan === undefined) continue;
      for (const [workerId, list] of newest.plan.byWorker) {
        counts.set(workerId, (counts.get(workerId) ?? 0) + list.length);
      }
    }
    return counts;
  }

  /** Recomputes every plan older than the current membership, emitting how many shards moved. */
  refreshPlans(): boolean {
    let stillStale = false;
    const version = this.o.membership.version();
    for (const entry of this.#datasets.values()) {
      for (const state of entry.epochs.values()) {
        if (state.plan !== undefined && state.plan.membershipVersion !== version) {
          if (this.#plan(entry, state).membershipVersion !== version) stillStale = true;
        }
      }
    }
    return stillStale;
  }

  views(): DatasetView[] {
    return [...this.#datasets.values()].map((entry) => ({
      spec: entry.spec,
      totalShards: entry.totalShards,
      registeredAtMs: entry.registeredAtMs,
      epochs: [...entry.epochs.values()]
        .filter((s) => s.consumed.size > 0)
        .sort((a, b) => a.epoch - b.epoch)
        .map((s) => ({
          epoch: s.epoch,
          consumedSamples: s.totalConsumed,
          complete: s.completeShards === entry.totalShards,
        })),
    }));
  }

  #dataset(datasetId: string): DatasetEntry {
    const entry = this.#datasets.get(datasetId);
    if (entry === undefined) {
      throw new RuntimeError(`dataset "${datasetId}" is not registered`, {
        code: Code.NotFound,
        details: { datasetId },
      });
    }
    return entry;
  }

  /**
   * The epoch's state, created empty if needed. Memory stays bounded without touching stored
   * progress: epochs nobody reported on are dropped first, then the plans (caches) of the oldest.
   */
  #epochFor(entry: DatasetEntry, epoch: number): EpochState {
    let state = entry.epochs.get(epoch);
    if (state !== undefined) return state;
    state = {
      epoch,
      consumed: new Map(),
      consumedCount: new Map(),
      totalConsumed: 0,
      completeShards: 0,
      pins: new Map(),
      plan: undefined,
    };
    entry.epochs.set(epoch, state);
    const max = this.o.maxEpochsPerDataset;
    if (entry.epochs.size > max) {
      const others = [...entry.epochs.values()]
        .filter((s) => s.epoch !== epoch)
        .sort((a, b) => a.epoch - b.epoch);
      for (const s of others) {
        if (entry.epochs.size <= max) break;
        if (s.consumed.size === 0 && s.pins.size === 0) entry.epochs.delete(s.epoch);
      }
      let planned = [...entry.epochs.values()].filter((s) => s.plan !== undefined).length;
      for (const s of others) {
        if (planned <= max) break;
        if (s.plan !== undefined && entry.epochs.has(s.epoch)) {
          s.plan = undefined;
          planned--;
        }
      }
    }
    return state;
  }

  #setConsumed(
    entry: DatasetEntry,
    state: EpochState,
    shardId: number,
    merged: SampleRange[],
  ): void {
    const size = shardSizeOf(entry, shardId);
    const before = state.consumedCount.get(shardId) ?? 0;
    const after = rangesLength(merged);
    state.consumed.set(shardId, merged);
    state.consumedCount.set(shardId, after);
    state.totalConsumed += after - before;
    if (before !== size && after === size) state.completeShards++;
    if (before === size && after !== size) state.completeShards--;
  }

  /**
   * The epoch's plan. A plan made before workers JOINED is kept for `minReplanIntervalMs` after
   * it was computed: a startup storm of registrations then costs one re-plan per interval, not
   * one per worker. The kept plan is self-consistent (every unconsumed shard has exactly one
   * owner, and progress is checked against the same plan); joiners just get their shards a
   * moment later. A plan made before a worker DIED or LEFT is replaced at once, so the
   * survivors take over its shards without delay.
   */
  #plan(entry: DatasetEntry, state: EpochState): Plan {
    const version = this.o.membership.version();
    const current = state.plan;
    if (current !== undefined) {
      if (current.membershipVersion === version) return current;
      const now = this.o.now();
      if (
        current.membershipVersion >= this.o.membership.lastDepartureVersion() &&
        now - current.computedAtMs < this.o.minReplanIntervalMs
      ) {
        return current;
      }
    }
    const workers = this.o.membership.sortedLiveWorkerIds();
    const { spec, totalShards } = entry;
    const assigned = assignOwners({
      datasetId: spec.datasetId,
      seed: spec.seed,
      epoch: state.epoch,
      totalShards,
      workers,
      epsilon: this.o.epsilon,
      previous: entry.ownership,
    });
    const base = assigned.owners;
    if (assigned.plan !== undefined && assigned.plan !== entry.ownership) {
      entry.ownership = assigned.plan;
      this.o.persistOwnership({
        t: "put_shard_plan",
        plan: { datasetId: spec.datasetId, plan: serializeShardPlan(assigned.plan) },
      });
    }
    const index = new Map<string, number>();
    for (let i = 0; i < workers.length; i++) index.set(workers[i] as string, i);
    const owners = new Int32Array(totalShards).fill(-1);
    const byWorker = new Map<string, number[]>();
    const order = shardReadingOrder(
      spec.datasetId,
      spec.seed,
      state.epoch,
      totalShards,
      spec.shuffle,
    );
    const previous = state.plan;
    let moved = 0;
    for (let i = 0; i < order.length; i++) {
      const shardId = order[i] as number;
      if ((state.consumedCount.get(shardId) ?? 0) === shardSizeOf(entry, shardId)) continue;
      const pinned = state.pins.get(shardId);
      const pinnedIndex = pinned === undefined ? undefined : index.get(pinned);
      const ownerIndex = pinnedIndex ?? (base[shardId] as number);
      owners[shardId] = ownerIndex;
      if (ownerIndex < 0) continue;
      const owner = workers[ownerIndex] as string;
      let list = byWorker.get(owner);
      if (list === undefined) {
        list = [];
        byWorker.set(owner, list);
      }
      list.push(shardId);
      if (previous !== undefined) {
        const prevIndex = previous.owners[shardId] ?? -1;
        if (prevIndex < 0 || previous.workers[prevIndex] !== owner) moved++;
      }
    }
    const plan: Plan = {
      membershipVersion: version,
      computedAtMs: this.o.now(),
      workers,
      owners,
      byWorker,
    };
    state.plan = plan;
    if (previous !== undefined) {
      this.o.counters.shardsMoved += moved;
      this.o.events.emit({
        type: "shards_reassigned",
        datasetId: spec.datasetId,
        epoch: state.epoch,
        membershipVersion: version,
        moved,
      });
      this.o.logger.info(
        {
          datasetId: spec.datasetId,
          epoch: state.epoch,
          membershipVersion: version,
          moved,
          workers: workers.length,
        },
        "shards re-planned",
      );
    }
    return plan;
  }
}

/** Samples in one shard (the last shard may be short). */
function shardSizeOf(entry: DatasetEntry, shardId: number): number {
  return Math.min(entry.spec.shardSize, entry.spec.totalSamples - shardId * entry.spec.shardSize);
}

/** One page of an epoch's shard map (see `DatasetHub.shardMap`). */
export interface ShardMapPage {
  epoch: number;
  /** The membership version the plan was made for. */
  membershipVersion: number;
  totalShards: number;
  /** First shard id of the page. */
  offset: number;
  /** Owners appearing in this page; `owner[i]` indexes it. */
  workers: string[];
  /** Per shard of the page: index into `workers`, −1 when no live worker holds it (complete, or none alive). */
  owner: number[];
  consumed: number[];
  pinned: boolean[];
  /** Shards per worker over the whole plan (not only this page). */
  shardsPerWorker: Record<string, number>;
}

/** The data position of one dataset epoch (see the proto's `EpochPosition`). */
export interface EpochPositionData {
  datasetId: string;
  epoch: number;
  totalShards: number;
  /** Bit i (byte i >> 3, bit i & 7) set when shard i was consumed completely. */
  completeShards: Uint8Array;
  partialShards: readonly { shardId: number; consumed: readonly SampleRange[] }[];
  consumedSamples: number;
}

/** Names of the spec fields that differ between two specs of one dataset id. */
function specDifferences(a: DatasetSpec, b: DatasetSpec): string[] {
  const out: string[] = [];
  if (a.path !== b.path) out.push("path");
  if (a.format !== b.format) out.push("format");
  if (a.totalSamples !== b.totalSamples) out.push("totalSamples");
  if (a.shardSize !== b.shardSize) out.push("shardSize");
  if (a.shuffle !== b.shuffle) out.push("shuffle");
  if (a.seed !== b.seed) out.push("seed");
  const ka = Object.keys(a.metadata).sort();
  const kb = Object.keys(b.metadata).sort();
  if (
    ka.length !== kb.length ||
    ka.some((k, i) => k !== kb[i] || a.metadata[k] !== b.metadata[k])
  ) {
    out.push("metadata");
  }
  return out;
}
