import type { ColumnDef, SortingState } from "@tanstack/react-table";

declare module "@tanstack/react-table" {
  interface ColumnMeta<TData, TValue> {
    /** The value a column sorts by when it is not the accessor's value (e.g. age for a timestamp). */
    sortValue?: (row: TData) => number | string | null;
  }
}

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

type Value = number | string | boolean | null | undefined;

function compare(a: Value, b: Value): number {
  if (a === b) return 0;
  // Missing values sort last in either direction's natural order.
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "string" && typeof b === "string") return collator.compare(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sorts rows by TanStack sorting state using the columns' own accessors (`accessorKey`,
 * `accessorFn`, or `meta.sortValue`): strings naturally (`w-9` before `w-10`), numbers by value,
 * several sort columns in order. Stable; the input is not changed; no sort gives the same array.
 * Done outside TanStack's row model so a table of thousands of live rows only builds models for
 * the rows on screen.
 */
export function sortRows<T>(
  rows: readonly T[],
  sorting: SortingState,
  columns: readonly ColumnDef<T, unknown>[],
): readonly T[] {
  if (sorting.length === 0) return rows;
  const keys = sorting.flatMap((sort) => {
    const column = columns.find(
      (c) => (c.id ?? (c as { accessorKey?: string }).accessorKey) === sort.id,
    );
    if (column === undefined) return [];
    const sortValue = column.meta?.sortValue;
    const accessorFn = (column as { accessorFn?: (row: T, index: number) => unknown }).accessorFn;
    const accessorKey = (column as { accessorKey?: string }).accessorKey;
    const get = (row: T, index: number): Value =>
      (sortValue !== undefined
        ? sortValue(row)
        : accessorFn !== undefined
          ? accessorFn(row, index)
          : accessorKey !== undefined
            ? (row as Record<string, unknown>)[accessorKey]
            : undefined) as Value;
    return [{ get, direction: sort.desc ? -1 : 1 }];
  });
  const decorated = rows.map((row, index) => ({
    row,
    index,
    values: keys.map((k) => k.get(row, index)),
  }));
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const result = compare(a.values[i], b.values[i]);
      if (result !== 0) {
        const missing =
          a.values[i] === null ||
          a.values[i] === undefined ||
          b.values[i] === null ||
          b.values[i] === undefined;
        return missing ? result : result * (keys[i]?.direction ?? 1);
      }
    }
    return a.index - b.index;
  });
  return decorated.map((d) => d.row);
}
