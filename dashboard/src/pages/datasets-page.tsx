import type { DatasetResponse } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useApi } from "../api/api-context.js";
import { datasetsQuery } from "../api/query-options.js";
import { PageHeader } from "../components/page-header.js";
import { ProgressBar } from "../components/progress-bar.js";
import { EmptyState, QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { ToneBadge } from "../components/tone-badge.js";
import { formatCount, formatPercent } from "../format.js";

/** The active epoch's progress of a dataset, or null before any progress was recorded. */
export function activeEpochProgress(dataset: DatasetResponse) {
  if (dataset.active_epoch === null) return null;
  return dataset.epochs.find((e) => e.epoch === dataset.active_epoch) ?? null;
}

/** Every registered dataset with its size, sharding and the progress of its epochs. */
export function DatasetsPage() {
  const api = useApi();
  const datasets = useQuery(datasetsQuery(api));
  return (
    <div>
      <PageHeader
        title="Datasets"
        description="Registered datasets, their shards and epoch progress."
      />
      <QueryStatus query={datasets} loadingLabel="Loading datasets…">
        {(data) =>
          data.length === 0 ? (
            <EmptyState title="No datasets registered">
              Workers register datasets with <code>RegisterDataset</code>; they appear here at once.
            </EmptyState>
          ) : (
            <ul className="grid gap-3 lg:grid-cols-2 2xl:grid-cols-3">
              {data.map((dataset) => {
                const progress = activeEpochProgress(dataset);
                const complete = dataset.epochs.filter((e) => e.complete).length;
                return (
                  <li key={dataset.id} className="card p-4">
                    <div className="flex items-start justify-between gap-2">
                      <h2 className="min-w-0 truncate font-semibold">
                        <Link className="link" to={`/datasets/${encodeURIComponent(dataset.id)}`}>
                          {dataset.name}
                        </Link>
                      </h2>
                      <div className="flex gap-1">
                        <ToneBadge tone="neutral">{dataset.format || "unknown format"}</ToneBadge>
                        {dataset.shuffle ? <ToneBadge tone="info">shuffled</ToneBadge> : null}
                      </div>
                    </div>
                    <p className="mt-1 text-sm muted">
                      {formatCount(dataset.total_samples)} samples ·{" "}
                      {formatCount(dataset.shard_count)} shards of {formatCount(dataset.shard_size)}{" "}
                      · registered <RelativeTime ms={dataset.registered_at} />
                    </p>
                    <div className="mt-3">
                      {progress === null ? (
                        <p className="text-sm muted">No epoch started yet.</p>
                      ) : (
                        <>
                          <p className="mb-1 text-sm">
                            Epoch {progress.epoch}: {formatCount(progress.consumed_samples)} of{" "}
                            {formatCount(dataset.total_samples)} samples{" "}
                            {progress.complete ? "(complete)" : ""}
                          </p>
                          <ProgressBar
                            value={Math.round(progress.fraction * 1000) / 10}
                            label={formatPercent(progress.fraction * 100)}
                            tone={progress.complete ? "zinc" : "teal"}
                          />
                        </>
                      )}
                      <p className="mt-1 text-xs muted">
                        {complete} of {dataset.epochs.length} recorded epochs complete
                      </p>
                    </div>
                  </li>
                );
              })}
            </ul>
          )
        }
      </QueryStatus>
    </div>
  );
}
