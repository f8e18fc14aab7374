import type { ReactNode } from "react";

/** Label–value pairs in a responsive grid (a `<dl>`): up to four columns, or two in half-width cards. */
export function DefinitionGrid({
  items,
  columns = 4,
}: {
  items: readonly [string, ReactNode][];
  columns?: 2 | 4;
}) {
  return (
    <dl
      className={`grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-2 ${columns === 4 ? "xl:grid-cols-4" : ""}`}
    >
      {items.map(([label, value]) => (
        <div key={label} className="min-w-0">
          <dt className="text-xs tracking-wide uppercase muted">{label}</dt>
          <dd className="truncate tabular-nums">{value}</dd>
        </div>
      ))}
    </dl>
  );
}
