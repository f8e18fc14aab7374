import type { ReactNode } from "react";

/** A headline number with its label and an optional detail line (units belong in `value`). */
export function StatCard({
  label,
  value,
  detail,
  detailTone = "neutral",
}: {
  label: string;
  value: ReactNode;
  detail?: ReactNode;
  /** `bad` colours the detail line red (dead workers). */
  detailTone?: "neutral" | "bad";
}) {
  return (
    <section className="card px-4 py-3" aria-label={label}>
      <h2 className="text-xs font-medium tracking-wide uppercase muted">{label}</h2>
      <p
        className="mt-1 text-2xl font-semibold tabular-nums"
        data-testid={`stat-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`}
      >
        {value}
      </p>
      {detail === undefined ? null : (
        <p
          className={`mt-0.5 text-xs ${detailTone === "bad" ? "font-medium text-red-700 dark:text-red-400" : "muted"}`}
        >
          {detail}
        </p>
      )}
    </section>
  );
}
