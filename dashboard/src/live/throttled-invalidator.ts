import type { QueryClient, QueryKey } from "@tanstack/react-query";

/** Coalesces invalidations: see {@link createThrottledInvalidator}. */
export interface ThrottledInvalidator {
  /** Invalidates `key` now, or once at the end of its window if it ran less than `windowMs` ago. */
  invalidate(key: QueryKey, windowMs?: number): void;
  /** Cancels pending invalidations. */
  dispose(): void;
}

/**
 * Invalidates query keys at most once per window each (leading and trailing edge), so a burst of
 * events (a thousand workers joining) refetches a list a few times instead of a thousand, and
 * the last change is never lost. Default window 300 ms.
 */
export function createThrottledInvalidator(
  queryClient: QueryClient,
  defaultWindowMs = 300,
): ThrottledInvalidator {
  const lastRun = new Map<string, number>();
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  const run = (id: string, key: QueryKey): void => {
    lastRun.set(id, Date.now());
    void queryClient.invalidateQueries({ queryKey: key });
  };
  return {
    invalidate(key, windowMs = defaultWindowMs) {
      const id = JSON.stringify(key);
      if (pending.has(id)) return;
      const since = Date.now() - (lastRun.get(id) ?? 0);
      if (since >= windowMs) {
        run(id, key);
        return;
      }
      pending.set(
        id,
        setTimeout(() => {
          pending.delete(id);
          run(id, key);
        }, windowMs - since),
      );
    },
    dispose() {
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
    },
  };
}
