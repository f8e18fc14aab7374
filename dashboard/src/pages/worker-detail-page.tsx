import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { useApi } from "../api/api-context.js";
import { statusQuery, workerQuery } from "../api/query-options.js";
import { DefinitionGrid } from "../components/definition-grid.js";
import { EventList } from "../components/event-list.js";
import { HeartbeatAge } from "../components/heartbeat-age.js";
import { PageHeader } from "../components/page-header.js";
import { EmptyState, QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { StateBadge } from "../components/state-badge.js";
import { WorkerHistoryCharts } from "../components/worker-history-charts.js";
import { formatBytes, formatCount, formatDecimal, formatPercent } from "../format.js";

/** One worker (remounted per id, so nothing of one worker's live trace leaks into another's). */
export function WorkerDetailPage() {
  const { id = "" } = useParams();
  return <WorkerDetail key={id} id={id} />;
}

/** One worker: its live values, resources, its history with live values, shards and events. */
function WorkerDetail({ id }: { id: string }) {
  const api = useApi();
  const detail = useQuery(workerQuery(api, id));
  const status = useQuery(statusQuery(api));
  return (
    <div>
      <PageHeader
        title={
          <span className="flex items-center gap-3">
            <span className="font-mono">{id}</span>
            {detail.data ? (
              <StateBadge state={detail.data.worker.state} left={detail.data.worker.left} />
            ) : null}
          </span>
        }
        description={
          <Link className="link" to="/workers">
            ← All workers
          </Link>
        }
      />
      <QueryStatus query={detail} loadingLabel="Loading worker…">
        {({ worker, events, shards }) => (
          <div className="space-y-4">
            <section className="card p-4" aria-label="Worker">
              <DefinitionGrid
                items={[
                  ["Rank", worker.alive ? worker.rank : `${worker.rank} (returned)`],
                  [
                    "Heartbeat",
                    <HeartbeatAge
                      key="hb"
                      lastHeartbeat={worker.last_heartbeat}
                      alive={worker.alive}
                      timeoutMs={status.data?.heartbeat_timeout_ms}
                    />,
                  ],
                  ["Step · epoch", `${formatCount(worker.current_step)} · ${worker.current_epoch}`],
                  ["Steps/s", formatDecimal(worker.step_rate)],
                  ["Samples consumed", formatCount(worker.samples_consumed)],
                  ["Shards held", formatCount(worker.assigned_shards)],
                  [
                    "Task",
                    worker.current_task === "" ? (
                      "—"
                    ) : (
                      <Link
                        key="task"
                        className="link"
                        to={`/tasks/${encodeURIComponent(worker.current_task)}`}
                      >
                        {worker.current_task}
                      </Link>
                    ),
                  ],
                  ["Host", `${worker.hostname} (${worker.ip}:${worker.port})`],
                  ["CPU", formatPercent(worker.resources?.cpu_percent)],
                  [
                    "Memory",
                    `${worker.resources ? formatBytes(worker.resources.memory_used_bytes) : "—"} of ${
                      worker.memory_bytes > 0 ? formatBytes(worker.memory_bytes) : "—"
                    }`,
                  ],
                  ["GPUs", worker.gpu_count],
                  ["Registered", <RelativeTime key="reg" ms={worker.registered_at} />],
                  ["Incarnation", worker.incarnation],
                  [
                    "Pending commands",
                    worker.pending_commands.length === 0
                      ? "none"
                      : worker.pending_commands.join(", "),
                  ],
                ]}
              />
              {Object.keys(worker.metadata).length > 0 ? (
                <p className="mt-3 font-mono text-xs break-all muted">
                  {Object.entries(worker.metadata)
                    .map(([k, v]) => `${k}=${v}`)
                    .join("  ")}
                </p>
              ) : null}
            </section>

            {worker.resources !== null && worker.resources.gpus.length > 0 ? (
              <section className="card overflow-x-auto p-4" aria-label="GPUs">
                <h2 className="mb-2 text-sm font-semibold">GPUs</h2>
                <table className="w-full text-left text-sm tabular-nums">
                  <thead className="text-xs uppercase muted">
                    <tr>
                      <th scope="col" className="py-1 pr-4">
                        GPU
                      </th>
                      <th scope="col" className="py-1 pr-4">
                        Utilisation
                      </th>
                      <th scope="col" className="py-1 pr-4">
                        Memory
                      </th>
                      <th scope="col" className="py-1 pr-4">
                        Temperature
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {worker.resources.gpus.map((gpu) => (
                      <tr key={gpu.gpu_id}>
                        <td className="py-1 pr-4">{gpu.gpu_id}</td>
                        <td className="py-1 pr-4">{formatPercent(gpu.utilization_percent)}</td>
                        <td className="py-1 pr-4">
                          {formatBytes(gpu.memory_used_bytes)} /{" "}
                          {formatBytes(gpu.memory_total_bytes)}
                        </td>
                        <td className="py-1 pr-4">{gpu.temperature_celsius.toFixed(0)} °C</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            ) : null}

            <WorkerHistoryCharts worker={worker} events={events} />

            <section className="card p-4" aria-label="Shards">
              <h2 className="mb-2 text-sm font-semibold">Shards</h2>
              {shards.length === 0 ? (
                <p className="text-sm muted">It holds no shards.</p>
              ) : (
                <ul className="space-y-2 text-sm">
                  {shards.map((s) => (
                    <li key={`${s.dataset_id}:${s.epoch}`}>
                      <Link
                        className="link font-medium"
                        to={`/datasets/${encodeURIComponent(s.dataset_id)}`}
                      >
                        {s.dataset_id}
                      </Link>{" "}
                      <span className="muted">
                        epoch {s.epoch} · {formatCount(s.total)} shards
                      </span>
                      <p className="mt-0.5 font-mono text-xs break-all muted">
                        {s.shard_ids.slice(0, 200).join(" ")}
                        {s.shard_ids.length > 200 || s.total > s.shard_ids.length
                          ? ` … (${formatCount(s.total - Math.min(200, s.shard_ids.length))} more)`
                          : ""}
                      </p>
                    </li>
                  ))}
                </ul>
              )}
            </section>

            <section className="card p-4" aria-label="Events">
              <h2 className="mb-2 text-sm font-semibold">Events</h2>
              {events.length === 0 ? (
                <EmptyState title="No events for this worker" />
              ) : (
                <div className="max-h-96 overflow-auto">
                  <EventList events={[...events].reverse()} label="Worker events, newest first" />
                </div>
              )}
            </section>
          </div>
        )}
      </QueryStatus>
    </div>
  );
}
