import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { type ReactNode, useEffect, useMemo, useState } from "react";
import { createApiClient } from "./api/api-client.js";
import { ApiContext, type ApiContextValue } from "./api/api-context.js";
import { isUnauthenticated } from "./api/api-request-error.js";
import { loadCoordinatorAddress, saveCoordinatorAddress } from "./api/coordinator-address.js";
import { connectLive } from "./live/connect-live.js";
import type { EventStream } from "./live/event-stream.js";
import { LiveContext, type LiveContextValue } from "./live/live-context.js";
import { createLiveStore, type LiveStore } from "./live/live-store.js";
import { ThemeContext } from "./theme/theme-context.js";
import { useTheme } from "./theme/use-theme.js";

/**
 * A query client for the dashboard: data stays fresh through the event stream's invalidations,
 * so queries do not refetch on focus or on a timer; a failed request is retried twice, an
 * unauthenticated one never (the user must sign in).
 */
export function createDashboardQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 60_000,
        gcTime: 5 * 60_000,
        refetchOnWindowFocus: false,
        retry: (failures, error) => !isUnauthenticated(error) && failures < 2,
      },
    },
  });
}

/** Props of {@link AppProviders}. Tests pass their own client, store and fetch. */
export interface AppProvidersProps {
  children: ReactNode;
  queryClient?: QueryClient;
  store?: LiveStore;
  fetch?: typeof fetch;
  /** Open the event stream (default true; component tests feed the store directly). */
  live?: boolean;
}

/**
 * Everything a page needs: the API client for the chosen coordinator, the query cache, the live
 * event stream and store, and the theme.
 */
export function AppProviders(props: AppProvidersProps) {
  const [queryClient] = useState(() => props.queryClient ?? createDashboardQueryClient());
  const [store] = useState(() => props.store ?? createLiveStore());
  const [address, setAddress] = useState(loadCoordinatorAddress);
  const [stream, setStream] = useState<EventStream | null>(null);
  const theme = useTheme();
  const api = useMemo(
    () => createApiClient({ baseUrl: address, ...(props.fetch ? { fetch: props.fetch } : {}) }),
    [address, props.fetch],
  );
  const live = props.live ?? true;

  useEffect(() => {
    if (!live) return;
    const opened = connectLive({ api, queryClient, store });
    setStream(opened);
    return () => opened.close();
  }, [api, queryClient, store, live]);

  const apiValue = useMemo<ApiContextValue>(
    () => ({
      api,
      setAddress(next) {
        saveCoordinatorAddress(next);
        queryClient.clear();
        setAddress(next);
      },
    }),
    [api, queryClient],
  );
  const liveValue = useMemo<LiveContextValue>(
    () => ({ store, stream, reconnect: () => stream?.reconnectNow() }),
    [store, stream],
  );

  return (
    <QueryClientProvider client={queryClient}>
      <ApiContext.Provider value={apiValue}>
        <LiveContext.Provider value={liveValue}>
          <ThemeContext.Provider value={theme}>{props.children}</ThemeContext.Provider>
        </LiveContext.Provider>
      </ApiContext.Provider>
    </QueryClientProvider>
  );
}
