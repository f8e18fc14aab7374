import type { Registry } from "prom-client";

// prom-client hashes the label set on every observe(), even through a `.labels()` child, which
// costs more than handling a heartbeat. These families keep one cell per label set, created once
// and held by the caller, so the hot path is a few additions; the Prometheus text is built at
// scrape time through prom-client's registry (`registerMetric` accepts any object with `get()`).

type Labels = Readonly<Record<string, string>>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricObject {
  name: string;
  help: string;
  type: "counter" | "histogram";
  values: MetricValue[];
  aggregator: "sum";
}

/** One counter time series. */
export interface CounterCell {
  inc(by?: number): void;
  readonly value: number;
}

/** One histogram time series, observed in seconds. */
export interface HistogramCell {
  observe(seconds: number): void;
  readonly count: number;
  readonly sum: number;
}

function key(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A counter family; `cell(labels)` returns the same cell for the same labels. */
export class FastCounter {
  readonly #cells = new Map<
    string,
    { labels: Labels; cell: { value: number; inc(by?: number): void } }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  cell(labels: Labels = {}): CounterCell {
    const k = key(labels);
    let entry = this.#cells.get(k);
    if (entry === undefined) {
      const cell = {
        value: 0,
        inc(by = 1) {
          cell.value += by;
        },
      };
      entry = { labels, cell };
      this.#cells.set(k, entry);
    }
    return entry.cell;
  }

  get(): MetricObject {
    return {
      name: this.name,
      help: this.help,
      type: "counter",
      aggregator: "sum",
      values: [...this.#cells.values()].map(({ labels, cell }) => ({
        labels: { ...labels },
        value: cell.value,
      })),
    };
  }

  reset(): void {
    for (const { cell } of this.#cells.values()) cell.value = 0;
  }
}

/** A histogram family with fixed upper bounds (seconds). */
export class FastHistogram {
  readonly #cells = new Map<
    string,
    { labels: Labels; cell: { counts: Float64Array; count: number; sum: number } & HistogramCell }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  cell(labels: Labels = {}): HistogramCell {
    const k = key(labels);
    let entry = this.#cells.get(k);
    if (entry === undefined) {
      const bounds = this.buckets;
      const cell = {
        counts: new Float64Array(bounds.length + 1),
        count: 0,
        sum: 0,
        observe(seconds: number) {
          cell.count++;
          cell.sum += seconds;
          let i = 0;
          while (i < bounds.length && seconds > (bounds[i] as number)) i++;
          cell.counts[i] = (cell.counts[i] as number) + 1;
        },
      };
      entry = { labels, cell };
      this.#cells.set(k, entry);
    }
    return entry.cell;
  }

  get(): MetricObject {
    const values: MetricValue[] = [];
    for (const { labels, cell } of this.#cells.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += cell.counts[i] as number;
        values.push({
          labels: { ...labels, le },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({
        labels: { ...labels, le: "+Inf" },
        value: cell.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: { ...labels }, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: "histogram", aggregator: "sum", values };
  }

  reset(): void {
    for (const { cell } of this.#cells.values()) {
      cell.counts.fill(0);
      cell.count = 0;
      cell.sum = 0;
    }
  }
}
