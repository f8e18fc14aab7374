import { createContext, useContext } from "react";
import type { EventStream } from "./event-stream.js";
import type { LiveStore } from "./live-store.js";

/** The live store and the stream feeding it. */
export interface LiveContextValue {
  store: LiveStore;
  /** Reconnects the stream at once (after signing in). */
  reconnect(): void;
  /** The running stream, for its `lastEventId`; null in tests without one. */
  stream: EventStream | null;
}

/** Provided by `AppProviders`. */
export const LiveContext = createContext<LiveContextValue | null>(null);

/** The live context; throws outside `AppProviders`. */
export function useLiveContext(): LiveContextValue {
  const value = useContext(LiveContext);
  if (value === null) throw new Error("live hooks must be used inside <AppProviders>");
  return value;
}
