import type { ColumnDef } from "@tanstack/react-table";
import type { ReactNode } from "react";
import { DataTable } from "./data-table.js";
import { downloadJson, fileStamp } from "./download-json.js";
import { Icon } from "./icons.js";
import { EmptyState } from "./query-status.js";

/** Props of {@link ExportableTable}. */
export interface ExportableTableProps<T> {
  /** The rows, already filtered; exported as they are. */
  rows: readonly T[];
  columns: ColumnDef<T, unknown>[];
  getRowId: (row: T) => string;
  /** Describes the table for screen readers. */
  caption: string;
  testId: string;
  /** The line above the table (how many rows, their order). */
  summary: ReactNode;
  /** Announce changes of the summary to screen readers (for lists that grow live). Default false. */
  liveSummary?: boolean;
  /** Start of the exported file's name: `<prefix>-<time>.json`. */
  exportPrefix: string;
  /** Shown instead of the table when there are no rows. */
  emptyTitle: string;
}

/** A summary line with an "Export JSON" button over a {@link DataTable} (or an empty state). */
export function ExportableTable<T>(props: ExportableTableProps<T>) {
  const { rows } = props;
  return (
    <>
      <div className="mb-2 flex flex-wrap items-center gap-3">
        <p className="text-sm muted" aria-live={props.liveSummary === true ? "polite" : undefined}>
          {props.summary}
        </p>
        <button
          type="button"
          className="btn ml-auto"
          onClick={() => downloadJson(`${props.exportPrefix}-${fileStamp(Date.now())}.json`, rows)}
          disabled={rows.length === 0}
        >
          <Icon name="download" width={14} height={14} /> Export JSON
        </button>
      </div>
      {rows.length === 0 ? (
        <EmptyState title={props.emptyTitle} />
      ) : (
        <DataTable
          caption={props.caption}
          testId={props.testId}
          data={rows}
          columns={props.columns}
          getRowId={props.getRowId}
        />
      )}
    </>
  );
}
