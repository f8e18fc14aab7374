import { createDeadlineSignal, sleep, throwIfAborted } from "./call-options.js";
import { ManualClock, systemClock } from "./clock.js";
import { Code } from "./code.js";
import { backoffDelayMs, retry } from "./retry.js";
import { RuntimeError } from "./runtime-error.js";

const unavailable = () => new RuntimeError("try later", { code: Code.Unavailable });

describe("backoffDelayMs", () => {
  test("grows exponentially and is capped", () => {
    const noJitter = { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelayMs(a, noJitter))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  test("jitter stays within [base·(1−j), base]", () => {
    const opts = { initialDelayMs: 1000, jitter: 0.5 };
    expect(backoffDelayMs(0, opts, () => 0)).toBe(500);
    expect(backoffDelayMs(0, opts, () => 0.999999)).toBe(1000);
  });
});

describe("retry", () => {
  test("retries retryable errors and returns the first success", async () => {
    let calls = 0;
    const retries: number[] = [];
    const value = await retry(
      async () => {
        calls++;
        if (calls < 3) throw unavailable();
        return "ok";
      },
      { initialDelayMs: 1, jitter: 0, onRetry: (_e, attempt) => retries.push(attempt) },
    );
    expect(value).toBe("ok");
    expect(calls).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  test("does not retry non-retryable errors", async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new RuntimeError("bad", { code: Code.InvalidArgument });
      }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument });
    expect(calls).toBe(1);
  });

  test("stops after maxAttempts with the last error", async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw unavailable();
        },
        { maxAttempts: 3, initialDelayMs: 1 },
      ),
    ).rejects.toMatchObject({ code: Code.Unavailable });
    expect(calls).toBe(3);
  });

  test("never sleeps past the deadline", async () => {
    let calls = 0;
    const error = await retry(
      async () => {
        calls++;
        throw unavailable();
      },
      { maxAttempts: 100, initialDelayMs: 10_000, timeoutMs: 200 },
    ).catch((e: unknown) => e as RuntimeError);
    expect(calls).toBe(1);
    expect(error.rawMessage).toContain("would pass the deadline");
  });

  test("a caller abort ends it with Canceled", async () => {
    const controller = new AbortController();
    const promise = retry(
      async (signal) => {
        await sleep(10_000, signal);
        return 1;
      },
      { signal: controller.signal },
    );
    controller.abort();
    await expect(promise).rejects.toMatchObject({ code: Code.Canceled });
  });

  test("the timeout ends a hanging attempt with DeadlineExceeded", async () => {
    await expect(
      retry((signal) => sleep(10_000, signal).then(() => 1), {
        timeoutMs: 20,
        operation: "upload",
      }),
    ).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
  });
});

describe("deadline signals", () => {
  test("cleanup clears the timer and remainingMs counts down", () => {
    const deadline = createDeadlineSignal("op", { timeoutMs: 10_000 });
    expect(deadline.remainingMs()).toBeGreaterThan(9_000);
    deadline.cleanup();
    deadline.cleanup();
    expect(deadline.signal.aborted).toBe(false);
  });

  test("an already aborted caller signal aborts at once", () => {
    const controller = new AbortController();
    controller.abort();
    const deadline = createDeadlineSignal("op", { signal: controller.signal });
    expect(deadline.signal.aborted).toBe(true);
    expect(() => throwIfAborted(deadline.signal)).toThrow(RuntimeError);
    deadline.cleanup();
  });

  test("without a timeout the remaining time is infinite", () => {
    const deadline = createDeadlineSignal("op");
    expect(deadline.remainingMs()).toBe(Number.POSITIVE_INFINITY);
    deadline.cleanup();
  });
});

describe("clocks", () => {
  test("ManualClock runs due timers in order, including ones they schedule", () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b"), 20);
    clock.setTimeout(() => {
      fired.push("a");
      clock.setTimeout(() => fired.push("c"), 5);
    }, 10);
    const cancelled = clock.setTimeout(() => fired.push("never"), 15);
    clock.clearTimeout(cancelled);
    clock.advance(14);
    expect(fired).toEqual(["a"]);
    expect(clock.now()).toBe(1_014);
    clock.advance(10);
    expect(fired).toEqual(["a", "c", "b"]);
    expect(clock.pendingTimers).toBe(0);
  });

  test("systemClock timers fire and can be cancelled", async () => {
    const fired = await new Promise<boolean>((resolve) => {
      const handle = systemClock.setTimeout(() => resolve(false), 5);
      systemClock.clearTimeout(handle);
      systemClock.setTimeout(() => resolve(true), 10, { unref: true });
    });
    expect(fired).toBe(true);
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(1000);
  });
});
