import type { ApiWorkerState } from "@strata/coordinator/api";
import { LEFT_STYLE, WORKER_STATE_STYLE } from "../worker-state-style.js";

/**
 * A worker's state as a coloured badge; dead is solid red so it stands out in any list. A worker
 * that `left` (deregistered cleanly) is shown as such, in grey: it did not fail.
 */
export function StateBadge({ state, left = false }: { state: ApiWorkerState; left?: boolean }) {
  const style = left && state === "dead" ? LEFT_STYLE : WORKER_STATE_STYLE[state];
  return (
    <span
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${style.badge}`}
    >
      {style.label}
    </span>
  );
}
