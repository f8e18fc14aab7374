import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { HeartbeatRequest, HeartbeatResponse } from "@strata/proto";
import {
  type Clock,
  Code,
  type Logger,
  RuntimeError,
  type TimerHandle,
} from "@strata/runtime-core";
import type { CoordinatorConnection } from "./coordinator-connection.js";
import { fromServiceError } from "./grpc-error.js";

/** How heartbeats travel: one long-lived `StreamHeartbeats` stream, or one unary call each. */
export type HeartbeatTransport = "stream" | "unary";

/** What the loop needs from its owner. */
export interface HeartbeatLoopOptions {
  connection: CoordinatorConnection;
  clock: Clock;
  logger: Logger;
  /** Time between heartbeats, in ms (read before each beat, so it can change). */
  intervalMs: () => number;
  /** `stream` falls back to `unary` for good when the coordinator does not implement streams. */
  transport: HeartbeatTransport;
  /** Builds the next request (status, resources). */
  buildRequest: () => Promise<HeartbeatRequest>;
  /** Handles a response (membership, commands). */
  onResponse: (response: HeartbeatResponse) => void;
  /** The coordinator does not know this worker (NOT_FOUND): register again. */
  onNotRegistered: (error: RuntimeError) => Promise<void>;
  /** Connectivity changed: `false` when heartbeats start failing, `true` when one gets through again. */
  onConnectivity: (connected: boolean, error?: RuntimeError) => void;
}

/**
 * Sends a heartbeat every `intervalMs` in the background until stopped. Over a stream, a write
 * whose answer has not arrived after two intervals (or a stream error) tears the stream down and
 * opens a new one after a capped, jittered backoff; `UNIMPLEMENTED` switches to unary calls.
 * A running loop keeps the process alive, as a registered worker should be: worker code that
 * only waits for commands must not exit and be declared dead. `stop()` (called by the worker's
 * `close()`, which deregisters) lets the process end.
 */
export class HeartbeatLoop {
  readonly #o: HeartbeatLoopOptions;
  #transport: HeartbeatTransport;
  #timer: TimerHandle | undefined;
  #stream: ClientDuplexStream<HeartbeatRequest, HeartbeatResponse> | undefined;
  #awaitingSinceMs: number | undefined;
  #failures = 0;
  #connected = true;
  #stopped = false;
  #busy = false;

  constructor(options: HeartbeatLoopOptions) {
    this.#o = options;
    this.#transport = options.transport;
  }

  /** The transport in use (it becomes `unary` after a fallback). */
  get transport(): HeartbeatTransport {
    return this.#transport;
  }

  /** Sends the first heartbeat now and keeps going. */
  start(): void {
    this.#schedule(0);
  }

  /** Sends a heartbeat now (status changes worth reporting at once); the schedule continues. */
  beatNow(): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#schedule(0);
  }

  /** Stops the loop and ends the stream. Idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#endStream();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => void this.#tick(), delayMs, { unref: false });
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (this.#busy) {
      this.#schedule(this.#o.intervalMs());
      return;
    }
    this.#busy = true;
    let nextDelayMs = this.#o.intervalMs();
    try {
      if (this.#transport === "stream") await this.#beatOverStream();
      else await this.#beatUnary();
    } catch (thrown) {
      nextDelayMs = await this.#onFailure(RuntimeError.from(thrown));
    } finally {
      this.#busy = false;
    }
    this.#schedule(nextDelayMs);
  }

  async #beatUnary(): Promise<void> {
    const request = await this.#o.buildRequest();
    if (this.#stopped) return;
    const response = await this.#o.connection.unary("heartbeat", request, {
      timeoutMs: Math.max(1_000, 2 * this.#o.intervalMs()),
      attemptTimeoutMs: Math.max(1_000, 2 * this.#o.intervalMs()),
    });
    this.#succeeded();
    this.#o.onResponse(response);
  }

  async #beatOverStream(): Promise<void> {
    const now = this.#o.clock.now();
    if (
      this.#stream !== undefined &&
      this.#awaitingSinceMs !== undefined &&
      now - this.#awaitingSinceMs > 2 * this.#o.intervalMs()
    ) {
      this.#endStream();
      throw new RuntimeError("heartbeat stream: no answer for two intervals", {
        code: Code.Unavailable,
      });
    }
    const request = await this.#o.buildRequest();
    if (this.#stopped) return;
    const stream = this.#stream ?? this.#openStream();
    this.#awaitingSinceMs ??= now;
    stream.write(request);
  }

  #openStream(): ClientDuplexStream<HeartbeatRequest, HeartbeatResponse> {
    const stream = this.#o.connection.openHeartbeatStream();
    this.#stream = stream;
    stream.on("data", (response: HeartbeatResponse) => {
      if (this.#stream !== stream) return;
      this.#awaitingSinceMs = undefined;
      if (!response.acknowledged) return; // rate-limited: not recorded, try again next beat
      this.#succeeded();
      this.#o.onResponse(response);
    });
    stream.on("error", (error: unknown) => {
      if (this.#stream !== stream || this.#stopped) return;
      this.#stream = undefined;
      this.#awaitingSinceMs = undefined;
      const failure = fromServiceError(error, "streamHeartbeats");
      if (failure.code === Code.Canceled) return;
      void this.#onStreamError(failure);
    });
    stream.on("end", () => {
      if (this.#stream === stream) {
        this.#stream = undefined;
        this.#awaitingSinceMs = undefined;
      }
    });
    return stream;
  }

  async #onStreamError(error: RuntimeError): Promise<void> {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const delayMs = await this.#onFailure(error);
    if (!this.#busy && this.#timer === undefined) this.#schedule(delayMs);
  }

  /** Handles a failed beat; returns the delay before the next one. */
  async #onFailure(error: RuntimeError): Promise<number> {
    if (this.#stopped) return this.#o.intervalMs();
    if (error.code === Code.Unimplemented && this.#transport === "stream") {
      this.#o.logger.info("the coordinator has no StreamHeartbeats; using unary heartbeats");
      this.#transport = "unary";
      return 0;
    }
    if (error.code === Code.NotFound) {
      try {
        await this.#o.onNotRegistered(error);
        this.#failures = 0;
        return 0;
      } catch (thrown) {
        error = RuntimeError.from(thrown);
      }
    }
    this.#failures++;
    if (this.#connected) {
      this.#connected = false;
      this.#o.onConnectivity(false, error);
    }
    this.#o.logger.debug({ err: error, failures: this.#failures }, "heartbeat failed");
    if (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded) {
      return this.#o.connection.noteUnavailable(error, this.#failures - 1);
    }
    return this.#o.intervalMs();
  }

  #succeeded(): void {
    this.#failures = 0;
    if (!this.#connected) {
      this.#connected = true;
      this.#o.onConnectivity(true);
    }
  }

  #endStream(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#awaitingSinceMs = undefined;
    if (stream === undefined) return;
    try {
      stream.end();
      stream.cancel();
    } catch {
      // already closed
    }
  }
}
