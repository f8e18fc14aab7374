import type { Clock } from "@strata/runtime-core";
import { systemClock } from "@strata/runtime-core";

/** Options for {@link createTokenBucketLimiter}. */
export interface TokenBucketLimiterOptions {
  /** Sustained requests per second per key. 0 disables limiting. */
  ratePerSecond: number;
  /** Largest burst per key; defaults to twice the rate. */
  burst?: number;
  /**
   * Most keys tracked at once. When the table is full, buckets that have refilled (exactly as a
   * new bucket would be, so forgetting them loses nothing) are dropped; if none has, a new key is
   * refused until one does. Existing buckets are never reset, so flooding the table with new keys
   * cannot buy anyone a fresh burst. Default 100,000.
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
 * Per-client rate limiting for RPCs. Each key (the client's IP address: see `CallGuard`) has a
 * bucket of `burst` tokens refilled at `ratePerSecond`; a call takes one token.
 */
export function createTokenBucketLimiter(options: TokenBucketLimiterOptions): TokenBucketLimiter {
  const rate = options.ratePerSecond;
  const burst = options.burst ?? rate * 2;
  const maxKeys = options.maxKeys ?? 100_000;
  const clock = options.clock ?? systemClock;
  const buckets = new Map<string, Bucket>();

  let nextPruneMs = 0;
  function prune(now: number): void {
    // At most once per refill time of one token, so a full table of busy keys costs O(1) per call.
    if (now < nextPruneMs) return;
    nextPruneMs = now + 1000 / rate;
    for (const [key, bucket] of buckets) {
      if (bucket.tokens + ((now - bucket.updatedMs) / 1000) * rate >= burst) buckets.delete(key);
    }
  }

  return {
    take(key) {
      if (rate <= 0) return true;
      const now = clock.now();
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        if (buckets.size >= maxKeys) {
          prune(now);
          if (buckets.size >= maxKeys) return false;
        }
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
