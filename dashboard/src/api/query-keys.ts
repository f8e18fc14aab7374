/**
 * Every TanStack Query key the dashboard uses, from one place, so the live stream can invalidate
 * exactly what an event changes. Keys are prefixes of each other on purpose:
 * invalidating `queryKeys.workers.all` also refreshes every worker's detail.
 */
export const queryKeys = {
  session: ["session"] as const,
  status: ["status"] as const,
  metrics: ["metrics"] as const,
  history: {
    all: ["history"] as const,
    range: (series: readonly string[], windowMs: number) =>
      ["history", series.join(","), windowMs] as const,
  },
  workers: {
    all: ["workers"] as const,
    list: ["workers", "list"] as const,
    detail: (id: string) => ["workers", "detail", id] as const,
    /**
     * A worker's stored samples over `windowMs` ending at `endMs` (null: now). Not under
     * `detail`: ticks patch every `["workers", "detail"]` entry as a worker detail.
     */
    history: (id: string, windowMs: number, endMs: number | null) =>
      ["workers", "history", id, windowMs, endMs] as const,
  },
  datasets: {
    all: ["datasets"] as const,
    list: ["datasets", "list"] as const,
    detail: (id: string, epoch: number | null, offset: number, limit: number) =>
      ["datasets", "detail", id, epoch, offset, limit] as const,
    detailOf: (id: string) => ["datasets", "detail", id] as const,
  },
  checkpoints: {
    all: ["checkpoints"] as const,
    list: (jobId: string) => ["checkpoints", "list", jobId] as const,
    detail: (jobId: string, step: number) => ["checkpoints", "detail", jobId, step] as const,
  },
  barriers: {
    all: ["barriers"] as const,
    list: ["barriers", "list"] as const,
    detail: (id: string) => ["barriers", "detail", id] as const,
  },
  tasks: {
    all: ["tasks"] as const,
    list: ["tasks", "list"] as const,
    logs: (id: string) => ["tasks", "logs", id] as const,
  },
  events: {
    all: ["events"] as const,
    recent: (filters: Readonly<Record<string, string>>) => ["events", "recent", filters] as const,
  },
  logs: {
    all: ["logs"] as const,
    list: (filters: Readonly<Record<string, string>>) => ["logs", "list", filters] as const,
  },
} as const;
