import type { Clock } from "@strata/runtime-core";
import { systemClock } from "@strata/runtime-core";

/** Options for {@link createTokenBucketLimiter}. */
export interface TokenBucketLimiterOptions {
  /** Sustained requests per second per key. 0 disables limiting. */
  ratePerSecond: number;
  /** Largest burst per key; defaults to twice the rate. */
  burst?: number;
  /**
   * Most keys tracked at once. When full, idle buckets (which would be full anyway) are dropped;
   * this bounds memory however many peers connect. Default 100,000.
   */
  maxKeys?: number;
  clock?: Clock;
}

/** A per-key token bucket: `take(key)` is false when the key has no token left. */
export interface TokenBucketLimiter {
  take(key: string): boolean;
  /** Number of keys currently tracked. */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Per-client rate limiting for RPCs. Each key (the peer address, so one TCP connection) has a
 * bucket of `burst` tokens refilled at `ratePerSecond`; a call takes one token.
 */
export function createTokenBucketLimiter(options: TokenBucketLimiterOptions): TokenBucketLimiter {
  const rate = options.ratePerSecond;
  const burst = options.burst ?? rate * 2;
  const maxKeys = options.maxKeys ?? 100_000;
  const clock = options.clock ?? systemClock;
  const buckets = new Map<string, Bucket>();

  function prune(now: number): void {
    for (const [key, bucket] of buckets) {
      if (bucket.tokens + ((now - bucket.updatedMs) / 1000) * rate >= burst) buckets.delete(key);
    }
    // Everyone is busy: forget the oldest half rather than grow without bound.
    if (buckets.size >= maxKeys) {
      let drop = Math.ceil(buckets.size / 2);
      for (const key of buckets.keys()) {
        if (drop-- <= 0) break;
        buckets.delete(key);
      }
    }
  }

  return {
    take(key) {
      if (rate <= 0) return true;
      const now = clock.now();
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        if (buckets.size >= maxKeys) prune(now);
        bucket = { tokens: burst, updatedMs: now };
        buckets.set(key, bucket);
      } else {
        bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * rate);
        bucket.updatedMs = now;
      }
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    },
    get size() {
      return buckets.size;
    },
  };
}
