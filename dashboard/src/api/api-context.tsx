import { createContext, useContext } from "react";
import type { ApiClient } from "./api-client.js";

/** The coordinator connection: the API client and a way to point it elsewhere. */
export interface ApiContextValue {
  api: ApiClient;
  /** Saves a new coordinator origin (`""` for this page's origin) and reconnects everything. */
  setAddress(address: string): void;
}

/** Provided by `AppProviders`. */
export const ApiContext = createContext<ApiContextValue | null>(null);

/** The API client of the coordinator the dashboard watches. */
export function useApi(): ApiClient {
  return useApiContext().api;
}

/** The API client and the address setter (settings page). */
export function useApiContext(): ApiContextValue {
  const value = useContext(ApiContext);
  if (value === null) throw new Error("useApi must be used inside <AppProviders>");
  return value;
}
