import type { BarrierDetailResponse, BarrierResponse } from "../api/barriers.js";
import type { BarrierView } from "../engine/types.js";
import type { BarrierTracker, FinishedGeneration } from "../monitor/barrier-tracker.js";

/** Most finished generations listed by `/api/barriers`. */
const MAX_FINISHED = 100;

/** An open (waiting) generation. */
export function openBarrierResponse(b: BarrierView): BarrierResponse {
  return {
    id: b.barrierId,
    name: b.barrierId,
    arrived: b.arrived.length,
    total: b.arrived.length + b.missing.length,
    status: "waiting",
    created_at: b.createdAtMs,
    generation: b.generation,
    step: b.step,
    deadline_at: b.deadlineMs,
    finished_at: null,
    waited_ms: null,
    abort_reason: null,
    arrived_ids: [...b.arrived],
    missing_ids: [...b.missing],
  };
}

/** A released or aborted generation. */
export function finishedBarrierResponse(g: FinishedGeneration): BarrierResponse {
  const arrivedIds = g.arrivals.map((a) => a.workerId);
  const missing = g.culpritId === null || arrivedIds.includes(g.culpritId) ? [] : [g.culpritId];
  const arrived =
    g.outcome === "released" ? Math.max(g.participants, arrivedIds.length) : arrivedIds.length;
  return {
    id: g.barrierId,
    name: g.barrierId,
    arrived,
    total: arrived + missing.length,
    status: g.outcome === "released" ? "complete" : "aborted",
    created_at: g.createdAtMs,
    generation: g.generation,
    step: g.step,
    deadline_at: null,
    finished_at: g.atMs,
    waited_ms: Math.max(0, Math.round(g.waitedMs)),
    abort_reason: g.abortReason,
    arrived_ids: arrivedIds,
    missing_ids: missing,
  };
}

/** `/api/barriers`: open generations (oldest first), then the last finished one of each id (newest first, at most 100). */
export function toBarrierList(
  open: readonly BarrierView[],
  tracker: BarrierTracker,
): BarrierResponse[] {
  const waiting = [...open].sort((a, b) => a.createdAtMs - b.createdAtMs).map(openBarrierResponse);
  const finished = tracker
    .lastFinished()
    .sort((a, b) => b.atMs - a.atMs)
    .slice(0, MAX_FINISHED)
    .map(finishedBarrierResponse);
  return [...waiting, ...finished];
}

/** `/api/barriers/:id`, or undefined when the id has neither an open nor a finished generation. */
export function toBarrierDetail(
  barrierId: string,
  open: readonly BarrierView[],
  tracker: BarrierTracker,
): BarrierDetailResponse | undefined {
  const history = tracker.history(barrierId);
  const current = open.find((b) => b.barrierId === barrierId);
  const last = history[history.length - 1];
  if (current === undefined && last === undefined) return undefined;
  const barrier =
    current !== undefined
      ? openBarrierResponse(current)
      : finishedBarrierResponse(last as FinishedGeneration);
  const arrivals =
    current !== undefined
      ? tracker.arrivals(barrierId, current.generation)
      : (last as FinishedGeneration).arrivals;
  return {
    barrier,
    arrivals: arrivals.map((a) => ({ worker_id: a.workerId, order: a.order, at: a.atMs })),
    history: history.map((g) => ({
      generation: g.generation,
      outcome: g.outcome,
      at: g.atMs,
      participants: g.participants,
      waited_ms: Math.max(0, Math.round(g.waitedMs)),
      abort_reason: g.abortReason,
    })),
  };
}
