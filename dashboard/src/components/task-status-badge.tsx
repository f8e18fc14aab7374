import type { TaskStatus } from "@strata/coordinator/api";
import { type Tone, ToneBadge } from "./tone-badge.js";

const TONES: Record<TaskStatus, Tone> = {
  pending: "neutral",
  running: "info",
  stopping: "warn",
  completed: "good",
  stopped: "neutral",
  failed: "bad",
};

/** A task's life-cycle status as a badge. */
export function TaskStatusBadge({ status }: { status: TaskStatus }) {
  return <ToneBadge tone={TONES[status]}>{status}</ToneBadge>;
}

/** Whether a task can still be stopped. */
export function isStoppable(status: TaskStatus): boolean {
  return status === "pending" || status === "running";
}
