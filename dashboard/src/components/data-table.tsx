import {
  type ColumnDef,
  flexRender,
  getCoreRowModel,
  type Row,
  type SortingState,
  useReactTable,
} from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { handleRouteClick } from "./route-anchor.js";
import { sortRows } from "./sort-rows.js";

/** Props of {@link DataTable}. */
export interface DataTableProps<T> {
  /** The rows, already filtered. */
  data: readonly T[];
  columns: ColumnDef<T, unknown>[];
  getRowId: (row: T) => string;
  /** Describes the table for screen readers. */
  caption: string;
  /** Initial sort (default none: the data's order). */
  initialSorting?: SortingState;
  /** Extra classes per row (dead workers stand out). */
  rowClassName?: (row: T) => string;
  /** Called when a row is clicked (its first cell should also hold a link for keyboards). */
  onRowClick?: (row: T) => void;
  /** Estimated row height in px for virtualisation (default 37). */
  rowHeight?: number;
  /** Max height of the scroll area (CSS; default 70vh). */
  maxHeight?: string;
  /** A test id for the table element. */
  testId?: string;
  /**
   * Fixed column widths from each column's `size` (px): the browser lays out a live table without
   * measuring every cell, and columns do not jitter as values change width. Default false (the
   * browser sizes columns to their content).
   */
  fixedLayout?: boolean;
}

/**
 * A sortable, virtualised table (TanStack Table + Virtual): only the visible rows are in the DOM
 * and in TanStack's row model, so thousands of workers scroll and update smoothly. It stays a real `<table>` (spacer rows
 * keep the scroll height) with `aria-rowcount`/`aria-rowindex` and `aria-sort` on headers, whose
 * sort buttons are keyboard operable.
 */
export function DataTable<T>(props: DataTableProps<T>) {
  const [sorting, setSorting] = useState<SortingState>(props.initialSorting ?? []);
  // Sorted here, then only the rows on screen go through TanStack's row model: a tick that
  // changes a thousand workers costs a sort and a few dozen rows, not a thousand row objects.
  const sorted = useMemo(
    () => sortRows(props.data, sorting, props.columns),
    [props.data, sorting, props.columns],
  );
  const scrollRef = useRef<HTMLDivElement>(null);
  const rowHeight = props.rowHeight ?? 37;
  const virtualizer = useVirtualizer({
    count: sorted.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 8,
    initialRect: { width: 1000, height: 600 },
  });
  const items = virtualizer.getVirtualItems();
  const firstIndex = items[0]?.index ?? 0;
  const lastIndex = items[items.length - 1]?.index ?? -1;
  const visible = useMemo(
    () => sorted.slice(firstIndex, lastIndex + 1),
    [sorted, firstIndex, lastIndex],
  );
  const table = useReactTable<T>({
    data: visible as T[],
    columns: props.columns,
    state: { sorting },
    onSortingChange: setSorting,
    manualSorting: true,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (row) => props.getRowId(row),
  });
  const rows = table.getRowModel().rows;
  const paddingTop = items[0]?.start ?? 0;
  const paddingBottom =
    items.length > 0 ? virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0) : 0;
  const columnCount = table.getVisibleLeafColumns().length;
  const navigate = useNavigate();

  const renderRow = (row: Row<T>, index: number) => (
    <tr
      key={row.id}
      aria-rowindex={index + 2}
      data-row-id={row.id}
      className={`border-b border-zinc-100 dark:border-zinc-800 ${
        props.onRowClick ? "cursor-pointer hover:bg-zinc-50 dark:hover:bg-zinc-800/60" : ""
      } ${props.rowClassName?.(row.original) ?? ""}`}
      style={{ height: rowHeight }}
      onClick={
        props.onRowClick
          ? (event) => {
              // A link in the row goes where it points, not to the row's page.
              if ((event.target as Element).closest?.("a") != null) return;
              props.onRowClick?.(row.original);
            }
          : undefined
      }
    >
      {row.getVisibleCells().map((cell) => (
        <td key={cell.id} className="overflow-hidden px-3 py-1.5 text-ellipsis whitespace-nowrap">
          {flexRender(cell.column.columnDef.cell, cell.getContext())}
        </td>
      ))}
    </tr>
  );

  return (
    <div
      ref={scrollRef}
      className="card overflow-auto"
      // Layout inside the scroll box never affects the page around it.
      style={{ maxHeight: props.maxHeight ?? "70vh", contain: "content" }}
    >
      {/* biome-ignore lint/a11y/useKeyWithClickEvents: delegation for the links inside; Enter on a focused link clicks it */}
      <table
        className={`w-full border-collapse text-left text-sm tabular-nums ${props.fixedLayout ? "table-fixed" : ""}`}
        style={props.fixedLayout ? { minWidth: table.getTotalSize() } : undefined}
        aria-rowcount={sorted.length + 1}
        data-testid={props.testId}
        onClick={(event) => handleRouteClick(event, navigate)}
      >
        <caption className="sr-only">{props.caption}</caption>
        <thead className="sticky top-0 z-10 bg-zinc-100 text-xs tracking-wide text-zinc-600 uppercase dark:bg-zinc-800 dark:text-zinc-300">
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id} aria-rowindex={1}>
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                const canSort = header.column.getCanSort();
                const label = flexRender(header.column.columnDef.header, header.getContext());
                return (
                  <th
                    key={header.id}
                    scope="col"
                    className="px-3 py-2 font-medium whitespace-nowrap"
                    style={props.fixedLayout ? { width: header.getSize() } : undefined}
                    aria-sort={
                      sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined
                    }
                  >
                    {canSort ? (
                      <button
                        type="button"
                        className="inline-flex items-center gap-1 uppercase hover:text-zinc-900 dark:hover:text-white"
                        onClick={header.column.getToggleSortingHandler()}
                      >
                        {label}
                        <span aria-hidden="true" className="w-3">
                          {sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : ""}
                        </span>
                      </button>
                    ) : (
                      label
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {paddingTop > 0 ? (
            <tr>
              <td colSpan={columnCount} style={{ height: paddingTop, padding: 0 }} />
            </tr>
          ) : null}
          {items.map((item, k) => {
            const row = rows[k];
            return row === undefined ? null : renderRow(row, item.index);
          })}
          {paddingBottom > 0 ? (
            <tr>
              <td colSpan={columnCount} style={{ height: paddingBottom, padding: 0 }} />
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}
