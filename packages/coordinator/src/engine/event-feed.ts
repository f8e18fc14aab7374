import type { Logger } from "@strata/runtime-core";
import type { CoordinatorEvent } from "./events.js";

/** Distributes every argument except `seq` and `atMs`, which the feed adds. */
export type EventInput = CoordinatorEvent extends infer E
  ? E extends CoordinatorEvent
    ? Omit<E, "seq" | "atMs">
    : never
  : never;

/**
 * Listeners plus a bounded ring of recent events. Emitting is synchronous; a listener that
 * throws is logged and does not stop the others (or the state change that emitted).
 */
export class EventFeed {
  readonly #listeners = new Set<(event: CoordinatorEvent) => void>();
  readonly #ring: (CoordinatorEvent | undefined)[];
  #next = 0;
  #seq = 0;

  /**
   * @param firstSeq the `seq` of the first event (default 1). A coordinator that keeps events in
   *   history passes one past the highest seq it ever handed out, so seq keeps growing across
   *   restarts.
   */
  constructor(
    capacity: number,
    private readonly now: () => number,
    private readonly logger: Logger,
    firstSeq = 1,
  ) {
    this.#ring = new Array<CoordinatorEvent | undefined>(Math.max(1, capacity));
    this.#seq = firstSeq - 1;
  }

  /** The seq of the newest event (firstSeq − 1 before any). */
  get lastSeq(): number {
    return this.#seq;
  }

  emit(input: EventInput): CoordinatorEvent {
    const event = { ...input, seq: ++this.#seq, atMs: this.now() } as CoordinatorEvent;
    this.#ring[this.#next] = event;
    this.#next = (this.#next + 1) % this.#ring.length;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error, eventType: event.type }, "event listener threw");
      }
    }
    return event;
  }

  subscribe(listener: (event: CoordinatorEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Recent events, oldest first. */
  recent(): CoordinatorEvent[] {
    const out: CoordinatorEvent[] = [];
    const n = this.#ring.length;
    for (let i = 0; i < n; i++) {
      const event = this.#ring[(this.#next + i) % n];
      if (event !== undefined) out.push(event);
    }
    return out;
  }
}
