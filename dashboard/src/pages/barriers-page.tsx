import type { BarrierResponse } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useApi } from "../api/api-context.js";
import { barriersQuery } from "../api/query-options.js";
import { PageHeader } from "../components/page-header.js";
import { ProgressBar } from "../components/progress-bar.js";
import { EmptyState, QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { ToneBadge } from "../components/tone-badge.js";
import { formatCount, formatDurationMs } from "../format.js";
import { useServerNow } from "../live/use-live.js";

/** Worker ids as small links, at most `limit` of them and a count of the rest. */
export function WorkerChips({
  ids,
  limit = 40,
  tone,
}: {
  ids: readonly string[];
  limit?: number;
  tone: "good" | "bad";
}) {
  const classes =
    tone === "good"
      ? "bg-emerald-50 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200"
      : "bg-red-50 text-red-900 dark:bg-red-950 dark:text-red-200";
  return (
    <ul className="flex flex-wrap gap-1">
      {ids.slice(0, limit).map((id) => (
        <li key={id}>
          <Link
            className={`rounded px-1.5 py-0.5 font-mono text-xs ${classes}`}
            to={`/workers/${encodeURIComponent(id)}`}
          >
            {id}
          </Link>
        </li>
      ))}
      {ids.length > limit ? (
        <li className="text-xs muted">and {formatCount(ids.length - limit)} more</li>
      ) : null}
    </ul>
  );
}

function OpenBarrier({ barrier }: { barrier: BarrierResponse }) {
  const now = useServerNow();
  return (
    <li className="card p-4" data-testid={`barrier-${barrier.id}`}>
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h3 className="font-semibold">
          <Link className="link" to={`/barriers/${encodeURIComponent(barrier.id)}`}>
            {barrier.name}
          </Link>{" "}
          <span className="text-sm font-normal muted">
            generation {barrier.generation} · step {formatCount(barrier.step)}
          </span>
        </h3>
        <span className="text-sm muted">
          waiting since <RelativeTime ms={barrier.created_at} />
          {barrier.deadline_at === null
            ? ""
            : ` · times out in ${formatDurationMs(Math.max(0, barrier.deadline_at - now))}`}
        </span>
      </div>
      <div className="mt-2">
        <ProgressBar
          value={barrier.arrived}
          max={Math.max(1, barrier.total)}
          label={`${formatCount(barrier.arrived)} of ${formatCount(barrier.total)} arrived`}
          tone="amber"
        />
      </div>
      <div className="mt-3 grid gap-3 md:grid-cols-2">
        <div>
          <h4 className="mb-1 text-xs font-medium tracking-wide uppercase muted">
            Missing ({formatCount(barrier.missing_ids.length)})
          </h4>
          {barrier.missing_ids.length === 0 ? (
            <p className="text-sm muted">none</p>
          ) : (
            <WorkerChips ids={barrier.missing_ids} tone="bad" />
          )}
        </div>
        <div>
          <h4 className="mb-1 text-xs font-medium tracking-wide uppercase muted">
            Arrived ({formatCount(barrier.arrived_ids.length)})
          </h4>
          {barrier.arrived_ids.length === 0 ? (
            <p className="text-sm muted">none yet</p>
          ) : (
            <WorkerChips ids={barrier.arrived_ids} tone="good" />
          )}
        </div>
      </div>
    </li>
  );
}

/** Barriers: the open ones with live arrivals and who is missing; the latest finished ones. */
export function BarriersPage() {
  const api = useApi();
  const barriers = useQuery(barriersQuery(api));
  return (
    <div>
      <PageHeader
        title="Barriers"
        description="Open barriers update as workers arrive; a dead member aborts or releases them."
      />
      <QueryStatus query={barriers} loadingLabel="Loading barriers…">
        {(data) => {
          const open = data.filter((b) => b.status === "waiting");
          const finished = data
            .filter((b) => b.status !== "waiting")
            .sort((a, b) => (b.finished_at ?? 0) - (a.finished_at ?? 0));
          return (
            <div className="space-y-5">
              <section aria-label="Open barriers">
                <h2 className="mb-2 text-sm font-semibold">Open ({open.length})</h2>
                {open.length === 0 ? (
                  <EmptyState title="No open barriers" />
                ) : (
                  <ul className="space-y-3">
                    {open.map((b) => (
                      <OpenBarrier key={`${b.id}:${b.generation}`} barrier={b} />
                    ))}
                  </ul>
                )}
              </section>
              <section aria-label="Finished barriers">
                <h2 className="mb-2 text-sm font-semibold">Recently finished</h2>
                {finished.length === 0 ? (
                  <p className="text-sm muted">None yet.</p>
                ) : (
                  <div className="card overflow-x-auto">
                    <table className="w-full text-left text-sm tabular-nums">
                      <thead className="bg-zinc-100 text-xs uppercase muted dark:bg-zinc-800">
                        <tr>
                          <th scope="col" className="px-3 py-2">
                            Barrier
                          </th>
                          <th scope="col" className="px-3 py-2">
                            Generation
                          </th>
                          <th scope="col" className="px-3 py-2">
                            Outcome
                          </th>
                          <th scope="col" className="px-3 py-2">
                            Participants
                          </th>
                          <th scope="col" className="px-3 py-2">
                            Waited
                          </th>
                          <th scope="col" className="px-3 py-2">
                            Finished
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {finished.map((b) => (
                          <tr
                            key={`${b.id}:${b.generation}`}
                            className="border-t border-zinc-100 dark:border-zinc-800"
                          >
                            <td className="px-3 py-1.5">
                              <Link className="link" to={`/barriers/${encodeURIComponent(b.id)}`}>
                                {b.name}
                              </Link>
                            </td>
                            <td className="px-3 py-1.5">{b.generation}</td>
                            <td className="px-3 py-1.5">
                              {b.status === "complete" ? (
                                <ToneBadge tone="good">released</ToneBadge>
                              ) : (
                                <ToneBadge tone="bad">
                                  aborted
                                  {b.abort_reason ? `: ${b.abort_reason.replace("_", " ")}` : ""}
                                </ToneBadge>
                              )}
                            </td>
                            <td className="px-3 py-1.5">
                              {formatCount(b.arrived)} of {formatCount(b.total)}
                            </td>
                            <td className="px-3 py-1.5">
                              {b.waited_ms === null ? "—" : formatDurationMs(b.waited_ms)}
                            </td>
                            <td className="px-3 py-1.5">
                              <RelativeTime ms={b.finished_at} />
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </section>
            </div>
          );
        }}
      </QueryStatus>
    </div>
  );
}
