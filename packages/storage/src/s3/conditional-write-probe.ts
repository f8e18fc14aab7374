import { randomUUID } from "node:crypto";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { type CallOptions, Code, createDeadlineSignal, RuntimeError } from "@strata/runtime-core";
import { raceAbort } from "../body-chunks.js";
import { RESERVED_SEGMENT_PREFIX } from "../validate-key.js";
import type { S3Context } from "./s3-context.js";
import { errorFromS3 } from "./s3-error.js";

/** What a server does with `If-None-Match: *`. */
export type ConditionalWritesSupport = "native" | "emulate";

/**
 * Finds out, once per storage instance, whether the server honours `If-None-Match: *`: put a
 * scratch object under `prefix/.strata-tmp-probe-<uuid>`, put it again with the header, expect
 * 412 (`native`); an overwrite means the header was ignored (`emulate`). The scratch object is
 * deleted in the background afterwards, off every caller's path.
 *
 * The probe is shared by every caller but belongs to none: it runs under its own bound
 * (`timeoutMs`) and is stopped only by {@link close}. Each caller waits for it with its own signal
 * and deadline, so a caller that gives up (or times out) neither stops the probe for the others
 * nor hands them its error. A probe that fails (network, server) is forgotten, and the next
 * create-only put starts a new one; its error goes to the callers waiting on it at that moment.
 *
 * @internal
 */
export class ConditionalWriteProbe {
  readonly #ctx: S3Context;
  readonly #timeoutMs: number;
  readonly #stop = new AbortController();
  #result: ConditionalWritesSupport | undefined;
  #running: Promise<ConditionalWritesSupport> | undefined;

  constructor(ctx: S3Context, timeoutMs: number) {
    this.#ctx = ctx;
    this.#timeoutMs = timeoutMs;
  }

  /** The answer, probing first if no probe has succeeded yet. Bounded by `options` alone. */
  async resolve(options: CallOptions = {}): Promise<ConditionalWritesSupport> {
    if (this.#result !== undefined) return this.#result;
    const operation = "conditional-write probe";
    const deadline = createDeadlineSignal(operation, options);
    try {
      if (this.#stop.signal.aborted) {
        throw new RuntimeError("the storage is closed", { code: Code.FailedPrecondition });
      }
      let running = this.#running;
      if (running === undefined) {
        running = this.#probe();
        this.#running = running;
        running.then(
          (result) => {
            this.#result = result;
          },
          () => {
            if (this.#running === running) this.#running = undefined; // try again next time
          },
        );
      }
      return await raceAbort(running, deadline.signal, operation);
    } finally {
      deadline.cleanup();
    }
  }

  /** Stops a probe in flight (its waiters get `Canceled`). */
  close(): void {
    this.#stop.abort(
      new RuntimeError("conditional-write probe stopped: the storage was closed", {
        code: Code.Canceled,
      }),
    );
  }

  async #probe(): Promise<ConditionalWritesSupport> {
    const ctx = this.#ctx;
    const operation = "conditional-write probe";
    const deadline = createDeadlineSignal(operation, {
      signal: this.#stop.signal,
      timeoutMs: this.#timeoutMs,
    });
    const fullKey = `${ctx.prefix}${RESERVED_SEGMENT_PREFIX}probe-${randomUUID()}`;
    const put = (condition: boolean) =>
      ctx.retrying(
        operation,
        deadline,
        (signal) =>
          ctx.client.send(
            new PutObjectCommand({
              Bucket: ctx.bucket,
              Key: fullKey,
              Body: new Uint8Array(0),
              ContentLength: 0,
              ...(condition ? { IfNoneMatch: "*" } : {}),
            }),
            { abortSignal: signal },
          ),
        // A 412 (or 409) to the conditional put is the answer we hope for: AlreadyExists.
        { createOnly: condition },
      );
    try {
      await put(false);
      try {
        await put(true);
        return "emulate"; // the header was ignored: the object was overwritten
      } catch (error) {
        const code = errorFromS3(error, operation, undefined, { createOnly: true }).code;
        if (code === Code.AlreadyExists) return "native";
        if (code === Code.Unimplemented || code === Code.InvalidArgument) return "emulate";
        throw error;
      }
    } catch (error) {
      throw errorFromS3(error, operation);
    } finally {
      deadline.cleanup();
      // The first put may have landed even if its answer did not: remove the scratch object,
      // in the background (bounded by abortTimeoutMs, awaited by close()).
      ctx.background(async (signal) => {
        await ctx.client
          .send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: fullKey }), {
            abortSignal: signal,
          })
          .catch(() => undefined);
      });
    }
  }
}
