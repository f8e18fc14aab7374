import { formatDurationMs } from "../format.js";
import { useServerNow } from "../live/use-live.js";

/**
 * How long ago a worker's last heartbeat arrived, ticking every second on the coordinator's
 * clock. Amber past half the heartbeat timeout, red past it (or when the worker is dead).
 */
export function HeartbeatAge({
  lastHeartbeat,
  alive,
  timeoutMs,
}: {
  /** ms since the epoch. */
  lastHeartbeat: number;
  alive: boolean;
  /** The coordinator's heartbeat timeout in ms, when known. */
  timeoutMs?: number | undefined;
}) {
  const now = useServerNow();
  const age = Math.max(0, now - lastHeartbeat);
  const late = timeoutMs !== undefined && age > timeoutMs / 2;
  const overdue = !alive || (timeoutMs !== undefined && age > timeoutMs);
  return (
    <span
      className={`tabular-nums ${overdue ? "font-medium text-red-700 dark:text-red-400" : late ? "text-amber-700 dark:text-amber-400" : ""}`}
      title={new Date(lastHeartbeat).toISOString()}
    >
      {formatDurationMs(age)}
    </span>
  );
}
