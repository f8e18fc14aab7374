import type { StoredRecord, StoreOp } from "../store/coordinator-store.js";

/**
 * Auxiliary records (opaque JSON by kind and id) that other parts of the coordinator keep
 * through the engine, such as the HTTP side's tasks. Memory changes only through
 * {@link RecordBook.apply} of committed ops.
 */
export class RecordBook {
  readonly #byKind = new Map<string, Map<string, string>>();

  restore(records: readonly StoredRecord[]): void {
    for (const r of records) this.#of(r.kind).set(r.id, r.json);
  }

  get(kind: string, id: string): string | undefined {
    return this.#byKind.get(kind)?.get(id);
  }

  count(kind: string): number {
    return this.#byKind.get(kind)?.size ?? 0;
  }

  /** Every record of a kind, in insertion order. */
  list(kind: string): { id: string; json: string }[] {
    return [...(this.#byKind.get(kind) ?? new Map<string, string>())].map(([id, json]) => ({
      id,
      json,
    }));
  }

  /** Applies a committed record op to memory. Other ops are ignored. */
  apply(op: StoreOp): void {
    if (op.t === "put_record") this.#of(op.record.kind).set(op.record.id, op.record.json);
    else if (op.t === "delete_record") this.#byKind.get(op.kind)?.delete(op.id);
  }

  #of(kind: string): Map<string, string> {
    let byId = this.#byKind.get(kind);
    if (byId === undefined) {
      byId = new Map();
      this.#byKind.set(kind, byId);
    }
    return byId;
  }
}
