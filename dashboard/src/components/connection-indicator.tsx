import { Link } from "react-router";
import { formatAgo, formatClockTime } from "../format.js";
import { useLiveContext } from "../live/live-context.js";
import { useConnectionState, useServerNow } from "../live/use-live.js";

/**
 * The live connection's state, always visible in the header: live; connecting; reconnecting
 * (with the attempt and the reason); offline since a time (with a button to retry now); or a
 * link to sign in. Announced to screen readers when it changes.
 */
export function ConnectionIndicator() {
  const state = useConnectionState();
  const { reconnect } = useLiveContext();
  const now = useServerNow();
  const localNow = Date.now();
  const dot = {
    live: "bg-emerald-500",
    connecting: "bg-zinc-400 animate-pulse",
    reconnecting: "bg-amber-500 animate-pulse",
    offline: "bg-red-600",
    unauthorized: "bg-amber-500",
  }[state.status];
  let text: string;
  switch (state.status) {
    case "live":
      text = "Live";
      break;
    case "connecting":
      text = "Connecting…";
      break;
    case "reconnecting":
      text = `Reconnecting… (attempt ${state.attempt})`;
      break;
    case "offline":
      text = `Offline since ${formatClockTime(state.since)} (${formatAgo(state.since, localNow)})`;
      break;
    case "unauthorized":
      text = "Sign in required";
      break;
  }
  void now; // re-render every second so "(2m ago)" ticks
  return (
    <div
      className="flex items-center gap-2 text-sm"
      data-testid="connection-state"
      data-status={state.status}
    >
      <span
        role="status"
        aria-live="polite"
        className="inline-flex items-center gap-2 rounded-full border border-zinc-200 px-2.5 py-1 dark:border-zinc-700"
        title={state.error ?? undefined}
      >
        <span className={`h-2 w-2 rounded-full ${dot}`} aria-hidden="true" />
        {text}
      </span>
      {state.status === "unauthorized" ? (
        <Link to="/settings" className="link">
          Sign in
        </Link>
      ) : null}
      {state.status === "offline" || state.status === "reconnecting" ? (
        <button type="button" className="btn px-2 py-0.5 text-xs" onClick={reconnect}>
          Retry now
        </button>
      ) : null}
    </div>
  );
}
