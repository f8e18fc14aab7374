import { shuffledSampleOrder } from "@strata/data-shard";
import type { ShardAssignment } from "@strata/proto";
import { type CallOptions, Code, RuntimeError, type SampleRange } from "@strata/runtime-core";
import type { DatasetHandle, StrataWorker } from "./strata-worker.js";

/** One sample of an epoch, as the iterator hands it out. */
export interface Sample {
  /** The sample's index in the dataset, in [0, totalSamples): what to read. */
  index: number;
  shardId: number;
  /**
   * The sample's position in its shard's reading order, in [shard start, shard end): what
   * progress reports count. Equal to `index` when the dataset does not shuffle.
   */
  position: number;
  epoch: number;
}

/** A progress report the coordinator accepted. */
export interface ProgressReport {
  datasetId: string;
  epoch: number;
  shardId: number;
  /** Positions reported consumed by this report (sorted, merged). */
  ranges: SampleRange[];
  /** Samples of the shard consumed so far this epoch (every worker). */
  consumedSamples: number;
  shardComplete: boolean;
  epochComplete: boolean;
}

/** Options for {@link StrataWorker.samples}. */
export interface EpochSamplesOptions {
  /** Report a shard's consumed samples once this many are unreported. Default 256. */
  reportEvery?: number;
  /** Report at least this often while samples are being consumed, in ms. Default 1,000. */
  reportIntervalMs?: number;
  /** Ends the iteration (with `CANCELED`) when it aborts. */
  signal?: AbortSignal;
  /** Shards per `GetShardAssignments` page. Default: the coordinator's (10,000). */
  pageSize?: number;
  /** Called after each accepted report (logging, metrics). */
  onReport?: (report: ProgressReport) => void;
  /**
   * Called just before a report is sent. With `onReport` it brackets the report: a process that
   * dies in between may or may not have had it recorded.
   */
  onReporting?: (report: {
    datasetId: string;
    epoch: number;
    shardId: number;
    ranges: SampleRange[];
  }) => void;
}

/**
 * This worker's samples of one dataset epoch, as an async iterator (`for await (const sample of
 * samples)`, or `samples.batches(n)` for batches). Exactly once across the cluster:
 *
 * - a shard is **claimed** (a zero-length progress report) before its first sample is handed
 *   out, so a worker joining meanwhile cannot be given the same shard;
 * - a sample counts as **consumed** once the code asks for the next one (or calls `flush()`),
 *   i.e. after the step that used it; consumed samples are reported with `ReportShardProgress`
 *   in batches (`reportEvery`, `reportIntervalMs`, and at each shard's end);
 * - when the membership changes (a death, a join, a progress restore) the assignment is asked
 *   for again at the next shard boundary, so shards of a dead worker move here; the iteration
 *   ends when this worker has no unread samples left in its assignment.
 *
 * A worker that dies loses only its unreported samples, which the coordinator then serves to
 * another worker. Use one iterator at a time per dataset epoch and worker.
 */
export class EpochSamples implements AsyncIterable<Sample> {
  readonly #worker: StrataWorker;
  readonly #dataset: DatasetHandle;
  readonly #epoch: number;
  readonly #options: EpochSamplesOptions;
  readonly #reportEvery: number;
  readonly #reportIntervalMs: number;
  /** Handed out, not yet known to be consumed. */
  #outstanding: { shardId: number; position: number }[] = [];
  /** Consumed, not yet reported, by shard. */
  readonly #pending = new Map<number, number[]>();
  /** Positions this iterator took (handed out or about to be), by shard. */
  readonly #taken = new Map<number, SampleRange[]>();
  /** Shards whose every remaining position was taken. */
  readonly #exhausted = new Set<number>();
  readonly #lostShards = new Set<number>();
  #version = 0;
  #lastReportMs: number;
  #claims = true;
  #reporting: Promise<void> = Promise.resolve();
  #reported = 0;
  #delivered = 0;
  #epochComplete = false;
  #started = false;

  /** Use {@link StrataWorker.samples}. */
  constructor(
    worker: StrataWorker,
    dataset: DatasetHandle,
    epoch: number,
    options: EpochSamplesOptions = {},
  ) {
    if (!Number.isSafeInteger(epoch) || epoch < 0) {
      throw new RuntimeError(`epoch: must be a non-negative integer, got ${epoch}`, {
        code: Code.InvalidArgument,
        details: { field: "epoch" },
      });
    }
    this.#worker = worker;
    this.#dataset = dataset;
    this.#epoch = epoch;
    this.#options = options;
    this.#reportEvery = positiveInt("reportEvery", options.reportEvery, 256);
    this.#reportIntervalMs = positiveInt("reportIntervalMs", options.reportIntervalMs, 1_000);
    this.#lastReportMs = worker.clock.now();
  }

  /** The dataset being read. */
  get datasetId(): string {
    return this.#dataset.spec.datasetId;
  }

  /** The epoch being read. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Samples handed out so far. */
  get deliveredSamples(): number {
    return this.#delivered;
  }

  /** Samples this iterator reported consumed and the coordinator accepted. */
  get reportedSamples(): number {
    return this.#reported;
  }

  /** Whether a report answered that every shard of the epoch is consumed (by any worker). */
  get epochComplete(): boolean {
    return this.#epochComplete;
  }

  [Symbol.asyncIterator](): AsyncIterator<Sample> {
    const batches = this.batches(1);
    return {
      next: async () => {
        const r = await batches.next();
        return r.done
          ? { value: undefined, done: true }
          : { value: r.value[0] as Sample, done: false };
      },
      return: async () => {
        await batches.return?.();
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * The samples in batches of up to `size` (a batch may span shards; the last one may be
   * shorter). A batch counts as consumed when the next one is asked for, or at `flush()`.
   */
  batches(size: number): AsyncIterableIterator<Sample[]> {
    positiveInt("size", size, 1);
    if (this.#started) {
      throw new RuntimeError("an EpochSamples can be iterated once", {
        code: Code.FailedPrecondition,
      });
    }
    this.#started = true;
    return this.#generate(size);
  }

  /**
   * Marks every sample handed out so far as consumed and reports all of them now. Call it when a
   * step that used them is done and must be on record, e.g. before a checkpoint.
   */
  async flush(options: CallOptions = {}): Promise<void> {
    this.#consumeOutstanding();
    await this.#report(true, options);
  }

  async *#generate(size: number): AsyncGenerator<Sample[], void, undefined> {
    const { spec } = this.#dataset;
    let order: { shardId: number; order: Uint32Array | undefined } | undefined;
    try {
      for (;;) {
        const list = await this.#assignments();
        let batch: Sample[] = [];
        let tookAny = false;
        let replan = false;
        for (const shard of list.shards) {
          const shardId = Number(shard.shardId);
          if (this.#exhausted.has(shardId) || this.#lostShards.has(shardId)) continue;
          // Shards may have moved: ask again before starting a new shard (not in the middle of one).
          if (!this.#taken.has(shardId) && this.#worker.membershipVersion > this.#version) {
            replan = true;
            break;
          }
          const start = Number(shard.startIndex);
          const end = Number(shard.endIndex);
          const ranges = subtract(remainingOf(shard, start, end), this.#taken.get(shardId) ?? []);
          if (ranges.length === 0) {
            this.#exhausted.add(shardId);
            continue;
          }
          if (!this.#taken.has(shardId)) {
            if (!(await this.#claim(shardId, (ranges[0] as SampleRange).start))) {
              replan = true;
              break;
            }
            this.#taken.set(shardId, []);
          }
          if (order?.shardId !== shardId) {
            order = {
              shardId,
              order: spec.shuffle
                ? shuffledSampleOrder(spec.seed, spec.datasetId, this.#epoch, shardId, end - start)
                : undefined,
            };
          }
          const taken = this.#taken.get(shardId) as SampleRange[];
          for (const range of ranges) {
            for (let p = range.start; p < range.end; p++) {
              addPosition(taken, p);
              tookAny = true;
              const index =
                order.order === undefined ? p : start + (order.order[p - start] as number);
              batch.push({ index, shardId, position: p, epoch: this.#epoch });
              if (batch.length >= size) {
                yield* this.#handOut(batch);
                batch = [];
                if (this.#lostShards.has(shardId)) break;
              }
            }
            if (this.#lostShards.has(shardId)) break;
          }
          this.#exhausted.add(shardId);
        }
        if (batch.length > 0) yield* this.#handOut(batch);
        // Everything handed out is consumed once we get here again: report before re-planning.
        this.#consumeOutstanding();
        await this.#report(true);
        if (!replan && !tookAny) return;
      }
    } finally {
      // An abandoned iteration (break, exception) still reports what was consumed before it;
      // the last batch handed out counts only if the caller flushed it.
      await this.#report(true).catch(() => undefined);
    }
  }

  async *#handOut(batch: Sample[]): AsyncGenerator<Sample[], void, undefined> {
    this.#throwIfAborted();
    this.#outstanding = batch.map((s) => ({ shardId: s.shardId, position: s.position }));
    this.#delivered += batch.length;
    yield batch;
    // The caller asked for more: the batch is consumed.
    this.#consumeOutstanding();
    await this.#report(false);
  }

  async #assignments(): Promise<{ shards: ShardAssignment[] }> {
    const list = await this.#worker.shardAssignments(this.#dataset.spec.datasetId, this.#epoch, {
      signal: this.#options.signal,
      pageSize: this.#options.pageSize,
    });
    this.#version = list.membershipVersion;
    return list;
  }

  /** Claims a shard before its first sample; false when it belongs to another worker now. */
  async #claim(shardId: number, at: number): Promise<boolean> {
    if (!this.#claims) return true;
    try {
      await this.#worker.call(
        "reportShardProgress",
        {
          workerId: this.#worker.workerId,
          datasetId: this.#dataset.spec.datasetId,
          epoch: BigInt(this.#epoch),
          shardId: BigInt(shardId),
          consumed: [{ start: BigInt(at), end: BigInt(at) }],
          membershipVersion: BigInt(this.#version),
        },
        { signal: this.#options.signal },
      );
      return true;
    } catch (thrown) {
      const error = RuntimeError.from(thrown);
      if (error.code === Code.FailedPrecondition) {
        this.#worker.logger.debug({ shardId }, "shard moved before it was claimed; re-planning");
        return false;
      }
      if (error.code === Code.InvalidArgument) {
        // A coordinator older than zero-length claims: read without them (a join may then move
        // a shard that is being read; its unreported samples would be read twice).
        this.#claims = false;
        this.#worker.logger.warn(
          { err: error },
          "the coordinator refuses shard claims; reading without them",
        );
        return true;
      }
      throw error;
    }
  }

  #consumeOutstanding(): void {
    for (const { shardId, position } of this.#outstanding) {
      if (this.#lostShards.has(shardId)) continue;
      let list = this.#pending.get(shardId);
      if (list === undefined) {
        list = [];
        this.#pending.set(shardId, list);
      }
      list.push(position);
    }
    this.#outstanding = [];
  }

  /** Reports pending shards: all of them when `all`, else those due by count, time or shard end. */
  #report(all: boolean, options: CallOptions = {}): Promise<void> {
    const run = async () => {
      const now = this.#worker.clock.now();
      const timeDue = now - this.#lastReportMs >= this.#reportIntervalMs;
      for (const [shardId, positions] of [...this.#pending]) {
        if (positions.length === 0) continue;
        const shardDone =
          this.#exhausted.has(shardId) && !this.#outstanding.some((o) => o.shardId === shardId);
        if (!all && !timeDue && !shardDone && positions.length < this.#reportEvery) continue;
        await this.#reportShard(shardId, positions, options);
      }
      if (all || timeDue) this.#lastReportMs = now;
    };
    const next = this.#reporting.then(run, run);
    this.#reporting = next.catch(() => undefined);
    return next;
  }

  async #reportShard(shardId: number, positions: number[], options: CallOptions): Promise<void> {
    const ranges = toRanges(positions);
    this.#options.onReporting?.({
      datasetId: this.#dataset.spec.datasetId,
      epoch: this.#epoch,
      shardId,
      ranges,
    });
    try {
      const ack = await this.#worker.call(
        "reportShardProgress",
        {
          workerId: this.#worker.workerId,
          datasetId: this.#dataset.spec.datasetId,
          epoch: BigInt(this.#epoch),
          shardId: BigInt(shardId),
          consumed: ranges.map((r) => ({ start: BigInt(r.start), end: BigInt(r.end) })),
          membershipVersion: BigInt(this.#version),
        },
        { signal: options.signal ?? this.#options.signal, timeoutMs: options.timeoutMs },
      );
      this.#pending.delete(shardId);
      this.#reported += positions.length;
      if (ack.epochComplete) this.#epochComplete = true;
      this.#options.onReport?.({
        datasetId: this.#dataset.spec.datasetId,
        epoch: this.#epoch,
        shardId,
        ranges,
        consumedSamples: Number(ack.consumedSamples),
        shardComplete: ack.shardComplete,
        epochComplete: ack.epochComplete,
      });
    } catch (thrown) {
      const error = RuntimeError.from(thrown);
      if (error.code !== Code.FailedPrecondition) throw error;
      // The shard belongs to another worker now (this one was declared dead meanwhile): those
      // samples will be served to it too. Stop reading the shard.
      this.#pending.delete(shardId);
      this.#lostShards.add(shardId);
      this.#worker.logger.warn(
        { err: error, shardId, samples: positions.length },
        "a shard moved away while it was being read; its unreported samples will be read again elsewhere",
      );
    }
  }

  #throwIfAborted(): void {
    const signal = this.#options.signal;
    if (signal?.aborted) {
      throw RuntimeError.from(
        signal.reason ?? new RuntimeError("canceled", { code: Code.Canceled }),
      );
    }
  }
}

/** The remaining positions of an assigned shard. */
function remainingOf(shard: ShardAssignment, start: number, end: number): SampleRange[] {
  if (shard.remainingRanges.length === 0) {
    return shard.consumedSamples > 0n ? [] : [{ start, end }];
  }
  return shard.remainingRanges.map((r) => ({ start: Number(r.start), end: Number(r.end) }));
}

/** `ranges` minus `taken` (both sorted, merged). */
export function subtract(
  ranges: readonly SampleRange[],
  taken: readonly SampleRange[],
): SampleRange[] {
  const out: SampleRange[] = [];
  for (const r of ranges) {
    let cursor = r.start;
    for (const t of taken) {
      if (t.end <= cursor) continue;
      if (t.start >= r.end) break;
      if (t.start > cursor) out.push({ start: cursor, end: t.start });
      cursor = Math.max(cursor, t.end);
      if (cursor >= r.end) break;
    }
    if (cursor < r.end) out.push({ start: cursor, end: r.end });
  }
  return out;
}

/** Adds one position to sorted, merged ranges (positions mostly arrive in increasing order). */
function addPosition(ranges: SampleRange[], p: number): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && last.end === p) {
    last.end = p + 1;
    return;
  }
  if (last === undefined || last.end < p) {
    ranges.push({ start: p, end: p + 1 });
    return;
  }
  ranges.push({ start: p, end: p + 1 });
  ranges.sort((a, b) => a.start - b.start);
  const merged: SampleRange[] = [];
  for (const r of ranges) {
    const m = merged[merged.length - 1];
    if (m !== undefined && r.start <= m.end) m.end = Math.max(m.end, r.end);
    else merged.push({ ...r });
  }
  ranges.splice(0, ranges.length, ...merged);
}

/** Positions → sorted, merged half-open ranges. */
export function toRanges(positions: readonly number[]): SampleRange[] {
  const sorted = [...positions].sort((a, b) => a - b);
  const out: SampleRange[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && p <= last.end) last.end = Math.max(last.end, p + 1);
    else out.push({ start: p, end: p + 1 });
  }
  return out;
}

function positiveInt(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RuntimeError(`${field}: must be a positive integer, got ${String(value)}`, {
      code: Code.InvalidArgument,
      details: { field },
    });
  }
  return value;
}
