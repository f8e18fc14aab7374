import type { ApiEvent } from "../api/events.js";
import { HISTORY_SERIES, type HistorySeries } from "../api/history.js";
import {
  type HistoryDatabase,
  type HistorySample,
  MINUTE_MS,
  matchesEventFilter,
  stepStarts,
} from "./history-database.js";

interface StoredSample {
  atMs: number;
  /** 1,000 for a 1-second sample, 60,000 for a 1-minute average. */
  tier: number;
  values: Record<HistorySeries, number | null>;
}

/**
 * History kept in memory, for a coordinator without a data directory (an injected store in
 * tests and embeddings): the same retention as on disk, lost with the process. Seq reservations
 * are kept only for the process's life.
 */
export function createMemoryHistory(): HistoryDatabase {
  let events: ApiEvent[] = [];
  let samples: StoredSample[] = [];
  let reserved = 0;
  return {
    kind: "memory",
    reservedSeq: () => reserved,
    reserveSeq(seq) {
      reserved = Math.max(reserved, seq);
    },
    write(newEvents, newSamples: readonly HistorySample[]) {
      for (const e of newEvents) events.push(e);
      for (const s of newSamples)
        samples.push({ atMs: s.atMs, tier: 1_000, values: { ...s.values } });
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
    },
    close() {
      events = [];
      samples = [];
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
