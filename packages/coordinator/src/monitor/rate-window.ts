/**
 * A cumulative counter observed over time, answering its rate per second over a sliding window.
 * Observations older than the window are dropped, except the newest one before it, so a counter
 * observed once a second still has a start point.
 */
export class RateWindow {
  readonly #times: number[] = [];
  readonly #values: number[] = [];

  /** @param windowMs how far back the rate looks, in ms. */
  constructor(private readonly windowMs: number) {}

  /** Records the counter's cumulative `value` at `atMs`. */
  observe(atMs: number, value: number): void {
    this.#times.push(atMs);
    this.#values.push(value);
    while (this.#times.length > 2 && (this.#times[1] as number) <= atMs - this.windowMs) {
      this.#times.shift();
      this.#values.shift();
    }
  }

  /** Increase per second between the oldest and newest observation in the window; 0 with fewer than two. */
  perSecond(): number {
    const n = this.#times.length;
    if (n < 2) return 0;
    const dt = (this.#times[n - 1] as number) - (this.#times[0] as number);
    const dv = (this.#values[n - 1] as number) - (this.#values[0] as number);
    return dt <= 0 || dv <= 0 ? 0 : (dv * 1_000) / dt;
  }

  /** Increase of the counter over the window. */
  delta(): number {
    const n = this.#times.length;
    return n < 2 ? 0 : Math.max(0, (this.#values[n - 1] as number) - (this.#values[0] as number));
  }
}
