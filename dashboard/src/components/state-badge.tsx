import type { ApiWorkerState } from "@strata/coordinator/api";
import { WORKER_STATE_STYLE } from "../worker-state-style.js";

/** A worker's state as a coloured badge; dead is solid red so it stands out in any list. */
export function StateBadge({ state }: { state: ApiWorkerState }) {
  const style = WORKER_STATE_STYLE[state];
  return (
    <span
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${style.badge}`}
    >
      {style.label}
    </span>
  );
}
