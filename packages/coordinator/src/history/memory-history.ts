import type { WorkerState } from "@strata/runtime-core";
import type { ApiEvent } from "../api/events.js";
import { HISTORY_SERIES, type HistorySeries } from "../api/history.js";
import {
  type HistoryDatabase,
  type HistorySample,
  MINUTE_MS,
  matchesEventFilter,
  stepStarts,
  WORKER_COARSE_MS,
  type WorkerSampleBatch,
} from "./history-database.js";
import { toWorkerHistoryResponse, type WorkerStepRow } from "./worker-history-columns.js";

interface StoredSample {
  atMs: number;
  /** 1,000 for a 1-second sample, 60,000 for a 1-minute average. */
  tier: number;
  values: Record<HistorySeries, number | null>;
}

/** One stored worker sample (a 10-second one, or a 10-minute roll-up at its bucket's start). */
interface StoredWorkerSample {
  atMs: number;
  state: WorkerState;
  step: number;
  epoch: number;
  stepRate: number | null;
  cpuPercent: number | null;
  memoryUsedBytes: number | null;
  gpuUtilizationPercent: number | null;
}

/**
 * History kept in memory, for a coordinator without a data directory (an injected store in
 * tests and embeddings): the same retention as on disk, lost with the process. Seq reservations
 * are kept only for the process's life.
 */
export function createMemoryHistory(): HistoryDatabase {
  let events: ApiEvent[] = [];
  let samples: StoredSample[] = [];
  /** Per worker, oldest first: 10-minute roll-ups (all older), then 10-second samples. */
  const workerSamples = new Map<
    string,
    { coarse: StoredWorkerSample[]; fine: StoredWorkerSample[] }
  >();
  let reserved = 0;
  return {
    kind: "memory",
    reservedSeq: () => reserved,
    reserveSeq(seq) {
      reserved = Math.max(reserved, seq);
    },
    write(newEvents, newSamples: readonly HistorySample[], batches: readonly WorkerSampleBatch[]) {
      for (const e of newEvents) events.push(e);
      for (const s of newSamples)
        samples.push({ atMs: s.atMs, tier: 1_000, values: { ...s.values } });
      for (const b of batches) {
        b.workerIds.forEach((id, i) => {
          let tiers = workerSamples.get(id);
          if (tiers === undefined) {
            tiers = { coarse: [], fine: [] };
            workerSamples.set(id, tiers);
          }
          tiers.fine.push({
            atMs: b.atMs,
            state: b.states[i] as WorkerState,
            step: b.steps[i] as number,
            epoch: b.epochs[i] as number,
            stepRate: b.stepRates[i] ?? null,
            cpuPercent: b.cpuPercents[i] ?? null,
            memoryUsedBytes: b.memoryUsedBytes[i] ?? null,
            gpuUtilizationPercent: b.gpuUtilizationPercents[i] ?? null,
          });
        });
      }
    },
    queryEvents(filter) {
      const out: ApiEvent[] = [];
      const asc = filter.order === "asc";
      for (let n = 0; n < events.length && out.length < filter.limit; n++) {
        const e = events[asc ? n : events.length - 1 - n] as ApiEvent;
        if (matchesEventFilter(e, filter)) out.push(e);
      }
      return out;
    },
    readSamples(query) {
      const timestamps = stepStarts(query);
      const sums = new Map<HistorySeries, { sum: number[]; n: number[] }>();
      for (const name of query.series) {
        sums.set(name, { sum: timestamps.map(() => 0), n: timestamps.map(() => 0) });
      }
      for (const s of samples) {
        if (s.atMs < query.from || s.atMs >= query.to) continue;
        const step = Math.floor((s.atMs - query.from) / query.step_ms);
        for (const name of query.series) {
          const value = s.values[name];
          if (value === null) continue;
          const acc = sums.get(name) as { sum: number[]; n: number[] };
          acc.sum[step] = (acc.sum[step] as number) + value;
          acc.n[step] = (acc.n[step] as number) + 1;
        }
      }
      const series: Record<string, (number | null)[]> = {};
      for (const [name, acc] of sums) {
        series[name] = acc.sum.map((sum, i) => {
          const n = acc.n[i] as number;
          return n === 0 ? null : sum / n;
        });
      }
      return { from: query.from, to: query.to, step_ms: query.step_ms, timestamps, series };
    },
    readWorkerSamples(workerId, query) {
      const tiers = workerSamples.get(workerId);
      const list = tiers === undefined ? [] : [...tiers.coarse, ...tiers.fine];
      const groups = new Map<number, StoredWorkerSample[]>();
      for (const s of list) {
        if (s.atMs < query.from || s.atMs >= query.to) continue;
        const index = Math.floor((s.atMs - query.from) / query.step_ms);
        let group = groups.get(index);
        if (group === undefined) {
          group = [];
          groups.set(index, group);
        }
        group.push(s);
      }
      const rows: WorkerStepRow[] = [];
      for (const [index, group] of groups) rows.push({ index, ...rollUp(group) });
      const first = list[0];
      const last = list[list.length - 1];
      return toWorkerHistoryResponse(
        workerId,
        query,
        rows,
        first === undefined || last === undefined
          ? undefined
          : { first: first.atMs, last: last.atMs },
      );
    },
    hasWorkerSamples(workerId) {
      return workerSamples.has(workerId);
    },
    compact(nowMs, retention) {
      const cut = Math.floor((nowMs - retention.fullResolutionMs) / MINUTE_MS) * MINUTE_MS;
      const minutes = new Map<number, StoredSample[]>();
      const kept: StoredSample[] = [];
      for (const s of samples) {
        if (s.tier === 1_000 && s.atMs < cut) {
          const minute = Math.floor(s.atMs / MINUTE_MS) * MINUTE_MS;
          let group = minutes.get(minute);
          if (group === undefined) {
            group = [];
            minutes.set(minute, group);
          }
          group.push(s);
        } else kept.push(s);
      }
      for (const [minute, group] of minutes) kept.push(average(minute, group));
      const oldest = nowMs - retention.retentionMs;
      samples = kept.filter((s) => s.atMs >= oldest).sort((a, b) => a.atMs - b.atMs);
      events = events.filter((e) => e.at >= oldest);
      if (events.length > retention.maxEvents) events = events.slice(-retention.maxEvents);
      const workerCut =
        Math.floor((nowMs - retention.fullResolutionMs) / WORKER_COARSE_MS) * WORKER_COARSE_MS;
      for (const [id, tiers] of workerSamples) {
        // Both lists are oldest first and every roll-up is older than every 10-second sample,
        // so only their heads change: the cost is what expires or rolls up, not what stays.
        let rolled = 0;
        while (
          rolled < tiers.fine.length &&
          (tiers.fine[rolled] as StoredWorkerSample).atMs < workerCut
        ) {
          rolled++;
        }
        if (rolled > 0) {
          const buckets = new Map<number, StoredWorkerSample[]>();
          for (const s of tiers.fine.splice(0, rolled)) {
            const bucket = Math.floor(s.atMs / WORKER_COARSE_MS) * WORKER_COARSE_MS;
            let group = buckets.get(bucket);
            if (group === undefined) {
              group = [];
              buckets.set(bucket, group);
            }
            group.push(s);
          }
          for (const [bucket, group] of buckets) {
            tiers.coarse.push({ atMs: bucket, ...rollUp(group) });
          }
        }
        for (const list of [tiers.coarse, tiers.fine]) {
          let expired = 0;
          while (expired < list.length && (list[expired] as StoredWorkerSample).atMs < oldest) {
            expired++;
          }
          if (expired > 0) list.splice(0, expired);
        }
        if (tiers.coarse.length === 0 && tiers.fine.length === 0) workerSamples.delete(id);
      }
    },
    close() {
      events = [];
      samples = [];
      workerSamples.clear();
    },
  };
}

function average(minute: number, group: readonly StoredSample[]): StoredSample {
  const values = {} as Record<HistorySeries, number | null>;
  for (const name of HISTORY_SERIES) {
    let sum = 0;
    let n = 0;
    for (const s of group) {
      const v = s.values[name];
      if (v !== null) {
        sum += v;
        n++;
      }
    }
    values[name] = n === 0 ? null : sum / n;
  }
  return { atMs: minute, tier: MINUTE_MS, values };
}

/**
 * Several worker samples as one: the latest one's state, step and epoch, the means of the rest
 * (over the samples that had a value).
 */
function rollUp(group: readonly StoredWorkerSample[]): Omit<WorkerStepRow, "index"> {
  let latest = group[0] as StoredWorkerSample;
  for (const s of group) if (s.atMs >= latest.atMs) latest = s;
  const mean = (pick: (s: StoredWorkerSample) => number | null): number | null => {
    let sum = 0;
    let n = 0;
    for (const s of group) {
      const v = pick(s);
      if (v !== null) {
        sum += v;
        n++;
      }
    }
    return n === 0 ? null : sum / n;
  };
  return {
    state: latest.state,
    step: latest.step,
    epoch: latest.epoch,
    stepRate: mean((s) => s.stepRate),
    cpuPercent: mean((s) => s.cpuPercent),
    memoryUsedBytes: mean((s) => s.memoryUsedBytes),
    gpuUtilizationPercent: mean((s) => s.gpuUtilizationPercent),
  };
}
