/**
 * A labelled progress bar. `value` of `max` (default 100); the label is read by screen readers
 * and, unless `hideLabel`, shown beside the bar.
 */
export function ProgressBar({
  value,
  max = 100,
  label,
  tone = "teal",
  hideLabel = false,
}: {
  value: number;
  max?: number;
  label: string;
  tone?: "teal" | "amber" | "red" | "zinc";
  hideLabel?: boolean;
}) {
  const fraction = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const fill = {
    teal: "bg-teal-600 dark:bg-teal-500",
    amber: "bg-amber-500",
    red: "bg-red-600",
    zinc: "bg-zinc-500",
  }[tone];
  return (
    <div className="flex items-center gap-2">
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={value}
        className="h-2 min-w-16 flex-1 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800"
      >
        <div className={`h-full ${fill}`} style={{ width: `${(fraction * 100).toFixed(2)}%` }} />
      </div>
      {hideLabel ? null : <span className="text-xs tabular-nums muted">{label}</span>}
    </div>
  );
}
