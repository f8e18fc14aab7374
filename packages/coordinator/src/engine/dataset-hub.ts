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
  plan: Plan | undefined;
}

interface DatasetEntry {
  spec: DatasetSpec;
  totalShards: number;
  registeredAtMs: number;
  epochs: Map<number, EpochState>;
  /**
   * The shard ownership in force (data-shard's plan; ownership does not depend on the epoch).
   * Each re-plan passes it as `previous`, so a membership change moves only the shards it must,
   * and it is persisted so a restarted coordinator keeps the same owners.
   */
  ownership: ShardPlan | undefined;
}

/** What the dataset hub reads about membership. */
export interface DatasetMembership {
  version(): number;
  /** The membership version right after the most recent death or departure (0 if none). */
  lastDepartureVersion(): number;
  /** Live worker ids, sorted. */
  sortedLiveWorkerIds(): readonly string[];
  isLive(workerId: string): boolean;
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
   * Persists store ops produced outside a request that returns ops (a re-plan's new ownership).
   * Fire-and-forget: a lost write only costs extra movement after a restart.
   */
  persistInBackground: (ops: StoreOp[]) => void;
  now: () => number;
  /** See `CoordinatorEngineOptions.minReplanIntervalMs`. */
  minReplanIntervalMs: number;
}

/** The outcome of a progress report. */
export interface ProgressOutcome {
  ops: StoreOp[];
  consumedSamples: number;
  shardComplete: boolean;
  epochComplete: boolean;
  newlyConsumed: number;
}

/**
 * Datasets, per-epoch plans and shard progress. A plan assigns every shard not yet fully consumed
 * to one live worker: the bounded-load assignment over the sorted live workers, except that a
 * shard a worker has started (reported progress on) stays pinned to that worker while it lives.
 * When the pinned worker dies or leaves, only the unconsumed remainder goes back into the
 * assignment over the survivors, so within an epoch no reported sample is handed out twice and
 * none is skipped.
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
    for (const d of datasets) {
      this.#datasets.set(d.spec.datasetId, {
        spec: d.spec,
        totalShards: d.totalShards,
        registeredAtMs: d.registeredAtMs,
        epochs: new Map(),
        ownership: undefined,
      });
    }
    for (const p of plans) {
      const entry = this.#datasets.get(p.datasetId);
      if (entry === undefined) continue;
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
    for (const p of progress) {
      const entry = this.#datasets.get(p.datasetId);
      if (entry === undefined || p.shardId >= entry.totalShards) continue;
      const state = this.#epoch(entry, p.epoch, false);
      this.#setConsumed(entry, state, p.shardId, mergeRanges(p.consumed));
      if (p.ownerWorkerId !== "") state.pins.set(p.shardId, p.ownerWorkerId);
    }
  }

  register(
    spec: DatasetSpec,
    nowMs: number,
  ): { totalShards: number; created: boolean; ops: StoreOp[] } {
    const existing = this.#datasets.get(spec.datasetId);
    if (existing !== undefined) {
      const differs = specDifferences(existing.spec, spec);
      if (differs.length > 0) {
        throw new RuntimeError(
          `dataset "${spec.datasetId}" is already registered with a different spec (differs in: ${differs.join(", ")})`,
          { code: Code.AlreadyExists, details: { datasetId: spec.datasetId, fields: differs } },
        );
      }
      return { totalShards: existing.totalShards, created: false, ops: [] };
    }
    if (this.#datasets.size >= this.o.maxDatasets) {
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
    const stored: StoredDataset = { spec, totalShards, registeredAtMs: nowMs };
    this.#datasets.set(spec.datasetId, { ...stored, epochs: new Map(), ownership: undefined });
    this.o.events.emit({ type: "dataset_registered", datasetId: spec.datasetId, totalShards });
    this.o.logger.info({ datasetId: spec.datasetId, totalShards }, "dataset registered");
    return { totalShards, created: true, ops: [{ t: "put_dataset", dataset: stored }] };
  }

  has(datasetId: string): boolean {
    return this.#datasets.has(datasetId);
  }

  datasetIds(): string[] {
    return [...this.#datasets.keys()];
  }

  /** The worker's shards for an epoch in reading order (fully consumed shards left out). */
  assignments(
    workerId: string,
    datasetId: string,
    epoch: number,
  ): { totalShards: number; assignments: EngineShardAssignment[]; membershipVersion: number } {
    const entry = this.#dataset(datasetId);
    const state = this.#epoch(entry, epoch, true);
    const plan = this.#plan(entry, state);
    const shardIds = plan.byWorker.get(workerId) ?? [];
    const filePaths = Object.freeze([entry.spec.path]);
    const assignments = shardIds.map((shardId): EngineShardAssignment => {
      const start = shardId * entry.spec.shardSize;
      const end = Math.min(start + entry.spec.shardSize, entry.spec.totalSamples);
      const consumed = state.consumed.get(shardId);
      return {
        datasetId,
        shardId,
        totalShards: entry.totalShards,
        startIndex: start,
        endIndex: end,
        epoch,
        filePaths,
        remainingRanges:
          consumed === undefined ? [{ start, end }] : remainingRanges(start, end, consumed),
        consumedSamples: state.consumedCount.get(shardId) ?? 0,
      };
    });
    return {
      totalShards: entry.totalShards,
      assignments,
      membershipVersion: plan.membershipVersion,
    };
  }

  /**
   * Records consumed ranges of one shard and pins the rest of it to `workerId`. Rejects a report
   * for a shard the current plan gives to another worker (FAILED_PRECONDITION), and ranges outside
   * the shard (OUT_OF_RANGE).
   */
  report(
    workerId: string,
    datasetId: string,
    epoch: number,
    shardId: number,
    ranges: readonly SampleRange[] | undefined,
    upTo: number | undefined,
    reporterVersion: number | undefined,
  ): ProgressOutcome {
    const entry = this.#dataset(datasetId);
    if (!Number.isSafeInteger(shardId) || shardId < 0 || shardId >= entry.totalShards) {
      throw new RuntimeError(
        `shard ${shardId} is out of range for dataset "${datasetId}" (0…${entry.totalShards - 1})`,
        { code: Code.OutOfRange, details: { datasetId, shardId, totalShards: entry.totalShards } },
      );
    }
    const start = shardId * entry.spec.shardSize;
    const end = Math.min(start + entry.spec.shardSize, entry.spec.totalSamples);
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
    const state = this.#epoch(entry, epoch, true);
    const plan = this.#plan(entry, state);
    const alreadyComplete = (state.consumedCount.get(shardId) ?? 0) === end - start;
    const ownerIndex = plan.owners[shardId] ?? -1;
    const owner = ownerIndex >= 0 ? plan.workers[ownerIndex] : undefined;
    if (!alreadyComplete && owner !== workerId) {
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
    const before = state.consumedCount.get(shardId) ?? 0;
    const merged = mergeRanges([...(state.consumed.get(shardId) ?? []), ...reported]);
    this.#setConsumed(entry, state, shardId, merged);
    const after = state.consumedCount.get(shardId) ?? 0;
    const shardComplete = after === end - start;
    if (shardComplete) {
      state.pins.delete(shardId);
    } else {
      state.pins.set(shardId, workerId);
    }
    if (shardComplete && !alreadyComplete && state.plan !== undefined) {
      // The plan stays valid; the complete shard simply leaves the owner's list.
      const list = state.plan.byWorker.get(workerId);
      if (list !== undefined) {
        const i = list.indexOf(shardId);
        if (i >= 0) list.splice(i, 1);
      }
      state.plan.owners[shardId] = -1;
    }
    const epochComplete = state.completeShards === entry.totalShards;
    this.o.logger.debug(
      { datasetId, epoch, shardId, workerId, consumedSamples: after, shardComplete, epochComplete },
      "shard progress recorded",
    );
    this.o.events.emit({
      type: "shard_progress",
      datasetId,
      epoch,
      shardId,
      workerId,
      consumedSamples: after,
      shardComplete,
    });
    return {
      ops: [
        {
          t: "put_shard_progress",
          progress: {
            datasetId,
            epoch,
            shardId,
            consumed: merged,
            ownerWorkerId: state.pins.get(shardId) ?? "",
          },
        },
      ],
      consumedSamples: after,
      shardComplete,
      epochComplete,
      newlyConsumed: after - before,
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
   * Puts a dataset's progress back to `position`: the epoch's consumed ranges become exactly the
   * position's (pins and plan dropped), and progress of later epochs is forgotten. Checks the
   * position against the dataset (INVALID_ARGUMENT naming the field).
   */
  restorePosition(position: EpochPositionData): {
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
    if (position.completeShards.length !== Math.ceil(entry.totalShards / 8)) {
      throw new RuntimeError(
        `position.complete_shards must have ${Math.ceil(entry.totalShards / 8)} bytes for ${entry.totalShards} shards, got ${position.completeShards.length}`,
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
    const forgottenEpochs = [...entry.epochs.keys()].filter((e) => e > epoch).sort((a, b) => a - b);
    for (const e of entry.epochs.keys()) if (e >= epoch) entry.epochs.delete(e);
    const state = this.#epoch(entry, epoch, true);
    const ops: StoreOp[] = [{ t: "delete_shard_progress_from", datasetId, fromEpoch: epoch }];
    for (const [shardId, ranges] of consumed) {
      this.#setConsumed(entry, state, shardId, ranges);
      ops.push({
        t: "put_shard_progress",
        progress: { datasetId, epoch, shardId, consumed: ranges, ownerWorkerId: "" },
      });
    }
    this.o.logger.info(
      { datasetId, epoch, consumedSamples: state.totalConsumed, forgottenEpochs },
      "shard progress restored to a checkpoint's position",
    );
    return { ops, consumedSamples: state.totalConsumed, forgottenEpochs };
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
    const state = this.#epoch(entry, epoch, true);
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

  /** A worker is no longer live: unpin its shards so the survivors take the remainder. */
  onMemberGone(workerId: string): StoreOp[] {
    const ops: StoreOp[] = [];
    for (const entry of this.#datasets.values()) {
      for (const state of entry.epochs.values()) {
        for (const [shardId, owner] of state.pins) {
          if (owner !== workerId) continue;
          state.pins.delete(shardId);
          ops.push({
            t: "put_shard_progress",
            progress: {
              datasetId: entry.spec.datasetId,
              epoch: state.epoch,
              shardId,
              consumed: state.consumed.get(shardId) ?? [],
              ownerWorkerId: "",
            },
          });
        }
      }
    }
    return ops;
  }

  /** Recomputes every plan older than the current membership, emitting how many shards moved. */
  refreshPlans(): boolean {
    let stillStale = false;
    for (const entry of this.#datasets.values()) {
      for (const state of entry.epochs.values()) {
        if (
          state.plan !== undefined &&
          state.plan.membershipVersion !== this.o.membership.version()
        ) {
          if (this.#plan(entry, state).membershipVersion !== this.o.membership.version()) {
            stillStale = true;
          }
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

  #epoch(entry: DatasetEntry, epoch: number, prune: boolean): EpochState {
    let state = entry.epochs.get(epoch);
    if (state === undefined) {
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
      if (prune && entry.epochs.size > this.o.maxEpochsPerDataset) {
        // Forget the oldest epochs other than the one just asked for. Their progress rows go
        // with the next progress write (delete_shard_progress_before) — see pruneOps.
        const others = [...entry.epochs.keys()].filter((e) => e !== epoch).sort((a, b) => a - b);
        while (entry.epochs.size > this.o.maxEpochsPerDataset && others.length > 0) {
          entry.epochs.delete(others.shift() as number);
        }
        this.o.logger.debug(
          { datasetId: entry.spec.datasetId, kept: [...entry.epochs.keys()] },
          "old epochs pruned",
        );
      }
    }
    return state;
  }

  /** Store ops that drop progress of epochs no longer kept (oldest kept epoch and below). */
  pruneOps(datasetId: string): StoreOp[] {
    const entry = this.#datasets.get(datasetId);
    if (entry === undefined || entry.epochs.size === 0) return [];
    const oldest = Math.min(...entry.epochs.keys());
    return [{ t: "delete_shard_progress_before", datasetId, beforeEpoch: oldest }];
  }

  #setConsumed(
    entry: DatasetEntry,
    state: EpochState,
    shardId: number,
    merged: SampleRange[],
  ): void {
    const start = shardId * entry.spec.shardSize;
    const end = Math.min(start + entry.spec.shardSize, entry.spec.totalSamples);
    const before = state.consumedCount.get(shardId) ?? 0;
    const after = rangesLength(merged);
    state.consumed.set(shardId, merged);
    state.consumedCount.set(shardId, after);
    state.totalConsumed += after - before;
    const size = end - start;
    if (before !== size && after === size) state.completeShards++;
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
      this.o.persistInBackground([
        {
          t: "put_shard_plan",
          plan: { datasetId: spec.datasetId, plan: serializeShardPlan(assigned.plan) },
        },
      ]);
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
      const size = Math.min(spec.shardSize, spec.totalSamples - shardId * spec.shardSize);
      if ((state.consumedCount.get(shardId) ?? 0) === size) continue;
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
