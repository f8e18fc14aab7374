import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { useApi } from "../api/api-context.js";
import { barrierQuery } from "../api/query-options.js";
import { DefinitionGrid } from "../components/definition-grid.js";
import { PageHeader } from "../components/page-header.js";
import { ProgressBar } from "../components/progress-bar.js";
import { QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { ToneBadge } from "../components/tone-badge.js";
import { formatCount, formatDurationMs, formatTimestamp } from "../format.js";
import { WorkerChips } from "./barriers-page.js";

/** One barrier: its open (or last) generation with arrival times, and its recent generations. */
export function BarrierDetailPage() {
  const { id = "" } = useParams();
  const api = useApi();
  const detail = useQuery(barrierQuery(api, id));
  return (
    <div>
      <PageHeader
        title={<span className="font-mono">{id}</span>}
        description={
          <Link className="link" to="/barriers">
            ← All barriers
          </Link>
        }
      />
      <QueryStatus query={detail} loadingLabel="Loading barrier…">
        {({ barrier: b, arrivals, history }) => (
          <div className="space-y-4">
            <section className="card p-4" aria-label="Generation">
              <DefinitionGrid
                items={[
                  [
                    "Status",
                    b.status === "waiting" ? (
                      <ToneBadge key="s" tone="warn">
                        waiting
                      </ToneBadge>
                    ) : b.status === "complete" ? (
                      <ToneBadge key="s" tone="good">
                        released
                      </ToneBadge>
                    ) : (
                      <ToneBadge key="s" tone="bad">
                        aborted: {b.abort_reason ?? "unknown"}
                      </ToneBadge>
                    ),
                  ],
                  ["Generation · step", `${b.generation} · ${formatCount(b.step)}`],
                  ["Opened", <RelativeTime key="o" ms={b.created_at} absolute />],
                  ["Waited", b.waited_ms === null ? "—" : formatDurationMs(b.waited_ms)],
                ]}
              />
              <div className="mt-3">
                <ProgressBar
                  value={b.arrived}
                  max={Math.max(1, b.total)}
                  label={`${formatCount(b.arrived)} of ${formatCount(b.total)} arrived`}
                  tone={b.status === "aborted" ? "red" : "amber"}
                />
              </div>
              {b.missing_ids.length > 0 ? (
                <div className="mt-3">
                  <h3 className="mb-1 text-xs font-medium uppercase muted">Missing</h3>
                  <WorkerChips ids={b.missing_ids} tone="bad" limit={200} />
                </div>
              ) : null}
            </section>
            <div className="grid gap-4 lg:grid-cols-2">
              <section className="card p-4" aria-label="Arrivals">
                <h2 className="mb-2 text-sm font-semibold">Arrivals</h2>
                {arrivals.length === 0 ? (
                  <p className="text-sm muted">Nobody has arrived yet.</p>
                ) : (
                  <ol className="space-y-0.5 text-sm tabular-nums">
                    {arrivals.map((a) => (
                      <li key={a.worker_id} className="flex gap-3">
                        <span className="w-8 text-right muted">#{a.order}</span>
                        <Link className="link" to={`/workers/${encodeURIComponent(a.worker_id)}`}>
                          {a.worker_id}
                        </Link>
                        <span className="muted">
                          +{formatDurationMs(Math.max(0, a.at - b.created_at))} ·{" "}
                          {formatTimestamp(a.at, { withMs: true })}
                        </span>
                      </li>
                    ))}
                  </ol>
                )}
              </section>
              <section className="card p-4" aria-label="Generations">
                <h2 className="mb-2 text-sm font-semibold">Recent generations</h2>
                {history.length === 0 ? (
                  <p className="text-sm muted">None finished yet.</p>
                ) : (
                  <ol className="space-y-0.5 text-sm tabular-nums">
                    {[...history].reverse().map((g) => (
                      <li key={g.generation} className="flex flex-wrap gap-3">
                        <span className="muted">#{g.generation}</span>
                        {g.outcome === "released" ? (
                          <ToneBadge tone="good">released</ToneBadge>
                        ) : (
                          <ToneBadge tone="bad">
                            aborted{g.abort_reason ? `: ${g.abort_reason}` : ""}
                          </ToneBadge>
                        )}
                        <span>
                          {formatCount(g.participants)} workers, waited{" "}
                          {formatDurationMs(g.waited_ms)}
                        </span>
                        <span className="muted">{formatTimestamp(g.at)}</span>
                      </li>
                    ))}
                  </ol>
                )}
              </section>
            </div>
          </div>
        )}
      </QueryStatus>
    </div>
  );
}
