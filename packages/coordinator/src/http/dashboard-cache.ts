import type { Clock } from "@strata/runtime-core";
import type { DashboardResponse } from "../api/dashboard.js";

/** How old a served `/api/dashboard` answer may be, in ms (it is rebuilt every second while polled). */
export const DASHBOARD_MAX_AGE_MS = 1_500;
/** Stop rebuilding in the background when nobody asked for this long, in ms. */
const IDLE_MS = 10_000;

/**
 * `/api/dashboard` materialised: the whole answer (1,000 workers make about 1.6 MB of JSON) is
 * built and serialised once a second by the monitor's tick while someone polls it, and every
 * request in between is served the same bytes, so polling dashboards cost a write each instead of
 * a rebuild each. An answer is at most {@link DASHBOARD_MAX_AGE_MS} old (the event stream carries
 * anything newer); a write through the API (a task created or stopped) drops it at once.
 * Answers are kept per request host, because `coordinator.address` depends on it.
 */
export class DashboardCache {
  readonly #entries = new Map<string, { body: Buffer; builtAtMs: number }>();
  #lastAskedMs = 0;

  constructor(
    private readonly build: (requestHost: string | undefined) => DashboardResponse,
    private readonly clock: Clock,
  ) {}

  /** The answer for a request that reached `requestHost`, as JSON bytes. */
  get(requestHost: string | undefined): Buffer {
    const now = this.clock.now();
    this.#lastAskedMs = now;
    const entry = this.#entries.get(requestHost ?? "");
    if (entry !== undefined && now - entry.builtAtMs < DASHBOARD_MAX_AGE_MS) return entry.body;
    return this.#rebuild(requestHost);
  }

  /** Rebuilds the answers that are being polled (called once a second); forgets them when nobody polls. */
  refresh(): void {
    if (this.clock.now() - this.#lastAskedMs > IDLE_MS) {
      this.#entries.clear();
      return;
    }
    for (const host of [...this.#entries.keys()]) this.#rebuild(host === "" ? undefined : host);
  }

  /** Drops every answer (after a write the next request must see). */
  invalidate(): void {
    this.#entries.clear();
  }

  #rebuild(requestHost: string | undefined): Buffer {
    const body = Buffer.from(JSON.stringify(this.build(requestHost)));
    if (this.#entries.size >= 16) this.#entries.clear(); // a few host names at most
    this.#entries.set(requestHost ?? "", { body, builtAtMs: this.clock.now() });
    return body;
  }
}
