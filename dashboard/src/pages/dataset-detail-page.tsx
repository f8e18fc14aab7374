import type { DatasetDetailResponse } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useApi } from "../api/api-context.js";
import { datasetQuery } from "../api/query-options.js";
import { DefinitionGrid } from "../components/definition-grid.js";
import { PageHeader } from "../components/page-header.js";
import { ProgressBar } from "../components/progress-bar.js";
import { QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { movedShards, ShardMap } from "../components/shard-map.js";
import { workerColor } from "../components/worker-color.js";
import { formatClockTime, formatCount, formatPercent } from "../format.js";

const PAGE = 10_000;

/** Remembers which shards moved in the latest rebalance, for ten seconds after it. */
function useMoved(detail: DatasetDetailResponse | undefined): Set<number> {
  const previous = useRef<DatasetDetailResponse | undefined>(undefined);
  const [moved, setMoved] = useState<Set<number>>(() => new Set());
  useEffect(() => {
    if (detail === undefined) return;
    const changed = movedShards(previous.current, detail);
    previous.current = detail;
    if (changed.size === 0) return;
    setMoved(changed);
    const timer = setTimeout(() => setMoved(new Set()), 10_000);
    return () => clearTimeout(timer);
  }, [detail]);
  return moved;
}

/**
 * One dataset: which worker holds which shard (the shard map, paged by 10,000), how much of each
 * shard is consumed, the shards per worker, the rebalances (moves) and every epoch's progress.
 */
export function DatasetDetailPage() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const epochParam = params.get("epoch");
  const epoch = epochParam === null || !/^\d+$/.test(epochParam) ? null : Number(epochParam);
  const offset = Math.max(0, Number(params.get("offset") ?? 0) || 0);
  const api = useApi();
  const detail = useQuery(datasetQuery(api, id, epoch, offset, PAGE));
  const moved = useMoved(detail.data);
  const setParam = (key: string, value: string | null) =>
    setParams((prev) => {
      const next = new URLSearchParams(prev);
      if (value === null) next.delete(key);
      else next.set(key, value);
      return next;
    });

  return (
    <div>
      <PageHeader
        title={<span className="font-mono">{id}</span>}
        description={
          <Link className="link" to="/datasets">
            ← All datasets
          </Link>
        }
      />
      <QueryStatus query={detail} loadingLabel="Loading the shard map…">
        {(d) => {
          const progress = d.dataset.epochs.find((e) => e.epoch === d.epoch);
          const perWorker = Object.entries(d.shards_per_worker).sort((a, b) => b[1] - a[1]);
          return (
            <div className="space-y-4">
              <section className="card p-4" aria-label="Dataset">
                <DefinitionGrid
                  items={[
                    ["Samples", formatCount(d.dataset.total_samples)],
                    [
                      "Shards",
                      `${formatCount(d.total_shards)} of ${formatCount(d.dataset.shard_size)} samples`,
                    ],
                    ["Format", d.dataset.format || "—"],
                    ["Shuffle", d.dataset.shuffle ? `yes (seed ${d.dataset.seed})` : "no"],
                    [
                      "Path",
                      <span key="p" className="font-mono">
                        {d.dataset.path || "—"}
                      </span>,
                    ],
                    ["Registered", <RelativeTime key="r" ms={d.dataset.registered_at} />],
                    ["Membership version", d.membership_version],
                    ["Rebalances", formatCount(d.moves.length)],
                  ]}
                />
              </section>

              <section className="card p-4" aria-label="Epoch progress">
                <div className="mb-2 flex flex-wrap items-end gap-3">
                  <h2 className="text-sm font-semibold">Epoch {d.epoch}</h2>
                  <div className="ml-auto">
                    <label htmlFor="epoch-select" className="label">
                      Epoch
                    </label>
                    <select
                      id="epoch-select"
                      className="input w-auto py-1"
                      value={epoch === null ? "" : String(epoch)}
                      onChange={(event) => {
                        setParam("epoch", event.target.value === "" ? null : event.target.value);
                        setParam("offset", null);
                      }}
                    >
                      <option value="">Active epoch</option>
                      {d.dataset.epochs.map((e) => (
                        <option key={e.epoch} value={e.epoch}>
                          Epoch {e.epoch} {e.complete ? "(complete)" : ""}
                        </option>
                      ))}
                    </select>
                  </div>
                </div>
                {progress === undefined ? (
                  <p className="text-sm muted">No progress recorded for this epoch yet.</p>
                ) : (
                  <ProgressBar
                    value={Math.round(progress.fraction * 1000) / 10}
                    label={`${formatCount(progress.consumed_samples)} of ${formatCount(d.dataset.total_samples)} samples (${formatPercent(progress.fraction * 100)})`}
                    tone={progress.complete ? "zinc" : "teal"}
                  />
                )}
              </section>

              <section className="card p-4" aria-label="Shard map">
                <div className="mb-2 flex flex-wrap items-center gap-3">
                  <h2 className="text-sm font-semibold">Shard map</h2>
                  <p className="text-xs muted">
                    Shards {formatCount(d.offset)}–{formatCount(d.offset + d.owner.length - 1)} of{" "}
                    {formatCount(d.total_shards)}. Colour: owner; filled part: consumed; outlined:
                    moved in the last rebalance.
                  </p>
                  {d.total_shards > PAGE ? (
                    <div className="ml-auto flex gap-2">
                      <button
                        type="button"
                        className="btn"
                        disabled={d.offset === 0}
                        onClick={() => setParam("offset", String(Math.max(0, d.offset - PAGE)))}
                      >
                        Previous {formatCount(PAGE)}
                      </button>
                      <button
                        type="button"
                        className="btn"
                        disabled={d.offset + PAGE >= d.total_shards}
                        onClick={() => setParam("offset", String(d.offset + PAGE))}
                      >
                        Next {formatCount(PAGE)}
                      </button>
                    </div>
                  ) : null}
                </div>
                {d.owner.length === 0 ? (
                  <p className="text-sm muted">No shards in this page.</p>
                ) : (
                  <ShardMap detail={d} moved={moved} />
                )}
              </section>

              <div className="grid gap-4 lg:grid-cols-2">
                <section className="card p-4" aria-label="Shards per worker">
                  <h2 className="mb-2 text-sm font-semibold">Shards per worker</h2>
                  {perWorker.length === 0 ? (
                    <p className="text-sm muted">No worker holds shards of this epoch.</p>
                  ) : (
                    <table className="w-full text-left text-sm tabular-nums">
                      <thead className="text-xs uppercase muted">
                        <tr>
                          <th scope="col" className="py-1">
                            Worker
                          </th>
                          <th scope="col" className="py-1 text-right">
                            Shards
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {perWorker.map(([worker, shards]) => (
                          <tr key={worker}>
                            <td className="py-0.5">
                              <span
                                className="mr-2 inline-block h-3 w-3 rounded-sm align-middle"
                                style={{ background: workerColor(worker) }}
                                aria-hidden="true"
                              />
                              <Link className="link" to={`/workers/${encodeURIComponent(worker)}`}>
                                {worker}
                              </Link>
                            </td>
                            <td className="py-0.5 text-right">{formatCount(shards)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )}
                </section>
                <section className="card p-4" aria-label="Rebalances">
                  <h2 className="mb-2 text-sm font-semibold">Rebalances</h2>
                  {d.moves.length === 0 ? (
                    <p className="text-sm muted">No re-plans yet.</p>
                  ) : (
                    <ol className="space-y-1 text-sm">
                      {[...d.moves]
                        .reverse()
                        .slice(0, 50)
                        .map((move) => (
                          <li
                            key={`${move.at}:${move.membership_version}`}
                            className="flex gap-3 tabular-nums"
                          >
                            <span className="font-mono text-xs muted">
                              {formatClockTime(move.at)}
                            </span>
                            <span>
                              epoch {move.epoch}, membership v{move.membership_version}:{" "}
                              <strong>{formatCount(move.moved)}</strong> shards moved
                            </span>
                          </li>
                        ))}
                    </ol>
                  )}
                </section>
              </div>
            </div>
          );
        }}
      </QueryStatus>
    </div>
  );
}
