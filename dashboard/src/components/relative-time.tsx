import { formatAgo, formatTimestamp } from "../format.js";
import { useServerNow } from "../live/use-live.js";

/**
 * A time shown relative and ticking (`"12s ago"`), with the absolute local time in a tooltip and
 * in the `<time dateTime>` for assistive technology; `absolute` shows both inline.
 * `ms` is ms since the epoch on the coordinator's clock.
 */
export function RelativeTime({ ms, absolute = false }: { ms: number | null; absolute?: boolean }) {
  const now = useServerNow();
  if (ms === null) return <span className="muted">—</span>;
  const exact = formatTimestamp(ms);
  return (
    <time dateTime={new Date(ms).toISOString()} title={exact}>
      {formatAgo(ms, now)}
      {absolute ? <span className="muted"> · {exact}</span> : null}
    </time>
  );
}
