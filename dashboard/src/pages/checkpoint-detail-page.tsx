import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { useApi } from "../api/api-context.js";
import { checkpointQuery } from "../api/query-options.js";
import { DefinitionGrid } from "../components/definition-grid.js";
import { PageHeader } from "../components/page-header.js";
import { QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { ToneBadge } from "../components/tone-badge.js";
import { formatBytes, formatCount, formatDurationMs, formatTimestamp } from "../format.js";

/** One checkpoint step: every rank's part, the ranks still missing, and the totals. */
export function CheckpointDetailPage() {
  const { job = "", step = "" } = useParams();
  const api = useApi();
  const stepNumber = /^\d+$/.test(step) ? Number(step) : Number.NaN;
  const detail = useQuery({
    ...checkpointQuery(api, job, stepNumber),
    enabled: Number.isFinite(stepNumber),
  });
  return (
    <div>
      <PageHeader
        title={
          <span>
            <span className="font-mono">{job || "(no job)"}</span> · step {step}
          </span>
        }
        description={
          <Link className="link" to="/checkpoints">
            ← All checkpoints
          </Link>
        }
      />
      {Number.isFinite(stepNumber) ? null : <p role="alert">“{step}” is not a step number.</p>}
      <QueryStatus query={detail} loadingLabel="Loading checkpoint…">
        {({ checkpoint: c, parts, missing_ranks: missing }) => (
          <div className="space-y-4">
            <section className="card p-4" aria-label="Checkpoint">
              <DefinitionGrid
                items={[
                  [
                    "Status",
                    c.status === "completed" ? (
                      <ToneBadge key="s" tone="good">
                        complete
                      </ToneBadge>
                    ) : (
                      <ToneBadge key="s" tone="warn">
                        waiting for ranks
                      </ToneBadge>
                    ),
                  ],
                  ["Ranks", `${c.ranks_reported} of ${c.ranks_expected} reported`],
                  ["Total size", `${formatBytes(c.size)} (${formatCount(c.size)} bytes)`],
                  ["Epoch", c.epoch],
                  ["First report", <RelativeTime key="c" ms={c.created_at} absolute />],
                  [
                    "Complete",
                    c.completed_at === null
                      ? "not yet"
                      : `${formatTimestamp(c.completed_at)} (${formatDurationMs(c.completed_at - c.created_at)} after the first)`,
                  ],
                  ["Missing ranks", missing.length === 0 ? "none" : missing.join(", ")],
                  [
                    "Path (rank 0)",
                    <span key="p" className="font-mono text-xs">
                      {c.path}
                    </span>,
                  ],
                ]}
              />
            </section>
            <section className="card overflow-x-auto p-4" aria-label="Parts">
              <h2 className="mb-2 text-sm font-semibold">Parts by rank</h2>
              <table className="w-full text-left text-sm tabular-nums">
                <thead className="text-xs uppercase muted">
                  <tr>
                    <th scope="col" className="py-1 pr-4">
                      Rank
                    </th>
                    <th scope="col" className="py-1 pr-4">
                      Worker
                    </th>
                    <th scope="col" className="py-1 pr-4">
                      Kind
                    </th>
                    <th scope="col" className="py-1 pr-4">
                      Size
                    </th>
                    <th scope="col" className="py-1 pr-4">
                      Recorded
                    </th>
                    <th scope="col" className="py-1 pr-4">
                      Checkpoint id
                    </th>
                    <th scope="col" className="py-1 pr-4">
                      Path
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {parts.map((part) => (
                    <tr
                      key={`${part.rank}:${part.worker_id}`}
                      className="border-t border-zinc-100 dark:border-zinc-800"
                    >
                      <td className="py-1 pr-4">{part.rank}</td>
                      <td className="py-1 pr-4">
                        <Link
                          className="link"
                          to={`/workers/${encodeURIComponent(part.worker_id)}`}
                        >
                          {part.worker_id}
                        </Link>
                      </td>
                      <td className="py-1 pr-4">{part.kind.replace("_", " ")}</td>
                      <td className="py-1 pr-4">{formatBytes(part.size)}</td>
                      <td className="py-1 pr-4">
                        <RelativeTime ms={part.recorded_at} />
                      </td>
                      <td className="py-1 pr-4 font-mono text-xs">{part.checkpoint_id}</td>
                      <td className="py-1 pr-4 font-mono text-xs">{part.path}</td>
                    </tr>
                  ))}
                  {missing.map((rank) => (
                    <tr
                      key={`missing:${rank}`}
                      className="border-t border-zinc-100 text-amber-800 dark:border-zinc-800 dark:text-amber-300"
                    >
                      <td className="py-1 pr-4">{rank}</td>
                      <td className="py-1 pr-4" colSpan={6}>
                        not reported yet
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </div>
        )}
      </QueryStatus>
    </div>
  );
}
