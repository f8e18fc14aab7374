import { type ColumnDef, createColumnHelper } from "@tanstack/react-table";
import { sortRows } from "./sort-rows.js";

type Row = { id: string; step: number | null; seen: number };
const column = createColumnHelper<Row>();
const columns = [
  column.accessor("id", {}),
  column.accessor((r) => r.step ?? -1, { id: "step" }),
  column.accessor("seen", { meta: { sortValue: (r) => -r.seen } }),
] as ColumnDef<Row, unknown>[];
const rows: Row[] = [
  { id: "w-10", step: 5, seen: 3 },
  { id: "w-9", step: null, seen: 1 },
  { id: "w-2", step: 5, seen: 2 },
];

describe("sortRows", () => {
  test("no sorting keeps the array", () => {
    expect(sortRows(rows, [], columns)).toBe(rows);
  });
  test("strings sort naturally, both directions", () => {
    expect(sortRows(rows, [{ id: "id", desc: false }], columns).map((r) => r.id)).toEqual([
      "w-2",
      "w-9",
      "w-10",
    ]);
    expect(sortRows(rows, [{ id: "id", desc: true }], columns).map((r) => r.id)).toEqual([
      "w-10",
      "w-9",
      "w-2",
    ]);
  });
  test("accessor functions, meta.sortValue, ties kept stable, several keys", () => {
    expect(sortRows(rows, [{ id: "step", desc: true }], columns).map((r) => r.id)).toEqual([
      "w-10",
      "w-2",
      "w-9",
    ]);
    expect(sortRows(rows, [{ id: "seen", desc: false }], columns).map((r) => r.id)).toEqual([
      "w-10",
      "w-2",
      "w-9",
    ]);
    expect(
      sortRows(
        rows,
        [
          { id: "step", desc: false },
          { id: "id", desc: true },
        ],
        columns,
      ).map((r) => r.id),
    ).toEqual(["w-9", "w-10", "w-2"]);
    expect(rows.map((r) => r.id)).toEqual(["w-10", "w-9", "w-2"]);
  });
});
