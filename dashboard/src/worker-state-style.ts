import type { ApiWorkerState } from "@strata/coordinator/api";

/** Tailwind classes for a badge: background, text and ring, in light and dark themes. */
export interface StateStyle {
  /** Human-readable label. */
  label: string;
  /** Tailwind colour family, for charts and legends. */
  color: string;
  /** Classes of the badge. */
  badge: string;
}

/**
 * How a worker state is shown: a label and colour for every state (the original collapsed four
 * states into "unknown"). Dead and error stand out in red.
 */
export const WORKER_STATE_STYLE: Readonly<Record<ApiWorkerState, StateStyle>> = {
  initializing: {
    label: "Initializing",
    color: "slate",
    badge:
      "bg-slate-100 text-slate-700 ring-slate-300 dark:bg-slate-800 dark:text-slate-200 dark:ring-slate-600",
  },
  idle: {
    label: "Idle",
    color: "sky",
    badge:
      "bg-sky-50 text-sky-800 ring-sky-300 dark:bg-sky-950 dark:text-sky-200 dark:ring-sky-800",
  },
  loading_data: {
    label: "Loading data",
    color: "indigo",
    badge:
      "bg-indigo-50 text-indigo-800 ring-indigo-300 dark:bg-indigo-950 dark:text-indigo-200 dark:ring-indigo-800",
  },
  training: {
    label: "Training",
    color: "emerald",
    badge:
      "bg-emerald-50 text-emerald-800 ring-emerald-300 dark:bg-emerald-950 dark:text-emerald-200 dark:ring-emerald-800",
  },
  checkpointing: {
    label: "Checkpointing",
    color: "amber",
    badge:
      "bg-amber-50 text-amber-900 ring-amber-300 dark:bg-amber-950 dark:text-amber-200 dark:ring-amber-800",
  },
  recovering: {
    label: "Recovering",
    color: "orange",
    badge:
      "bg-orange-50 text-orange-900 ring-orange-300 dark:bg-orange-950 dark:text-orange-200 dark:ring-orange-800",
  },
  error: {
    label: "Error",
    color: "rose",
    badge:
      "bg-rose-100 text-rose-900 ring-rose-400 dark:bg-rose-950 dark:text-rose-200 dark:ring-rose-700",
  },
  disconnecting: {
    label: "Leaving",
    color: "zinc",
    badge:
      "bg-zinc-100 text-zinc-700 ring-zinc-300 dark:bg-zinc-800 dark:text-zinc-300 dark:ring-zinc-600",
  },
  dead: {
    label: "Dead",
    color: "red",
    badge: "bg-red-600 text-white ring-red-700 dark:bg-red-700 dark:text-white dark:ring-red-500",
  },
};

/** A worker that deregistered (left cleanly): no longer a member, but nothing failed. */
export const LEFT_STYLE: StateStyle = {
  label: "Left",
  color: "zinc",
  badge:
    "bg-zinc-100 text-zinc-600 ring-zinc-300 dark:bg-zinc-800 dark:text-zinc-300 dark:ring-zinc-600",
};
