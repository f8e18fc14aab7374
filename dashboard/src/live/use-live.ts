import type { ApiEvent } from "@strata/coordinator/api";
import { useCallback, useSyncExternalStore } from "react";
import type { ConnectionState } from "./connection-state.js";
import { useLiveContext } from "./live-context.js";
import type { LiveSamples } from "./live-store.js";

/** The live connection's state; re-renders on every change. */
export function useConnectionState(): ConnectionState {
  const { store } = useLiveContext();
  const subscribe = useCallback((fn: () => void) => store.subscribe("connection", fn), [store]);
  return useSyncExternalStore(subscribe, store.getConnection);
}

/** The newest tick's metric sample (null before the first); re-renders once a second. */
export function useLatestSample(): ReturnType<
  ReturnType<typeof useLiveContext>["store"]["getLatestSample"]
> {
  const { store } = useLiveContext();
  const subscribe = useCallback((fn: () => void) => store.subscribe("samples", fn), [store]);
  return useSyncExternalStore(subscribe, store.getLatestSample);
}

/** The live metric samples received since the page opened (appended to history by charts). */
export function useLiveSamples(): LiveSamples {
  const { store } = useLiveContext();
  const subscribe = useCallback((fn: () => void) => store.subscribe("samples", fn), [store]);
  return useSyncExternalStore(subscribe, store.getSamples);
}

/** The recent coordinator events received live, oldest first. */
export function useLiveEvents(): readonly ApiEvent[] {
  const { store } = useLiveContext();
  const subscribe = useCallback((fn: () => void) => store.subscribe("events", fn), [store]);
  return useSyncExternalStore(subscribe, store.getEvents);
}

/**
 * The coordinator's clock now (ms since the epoch), re-rendering once a second: heartbeat ages and
 * relative times tick with it and stay right when the browser's clock is off.
 */
export function useServerNow(): number {
  const { store } = useLiveContext();
  const subscribe = useCallback((fn: () => void) => store.subscribe("clock", fn), [store]);
  useSyncExternalStore(subscribe, store.getClock);
  return store.serverNow();
}
