/**
 * Where the dashboard finds the coordinator's HTTP API. Empty (the default) means the page's own
 * origin: the coordinator serves the dashboard at `/`, and the Vite dev server proxies `/api` to
 * it. Settings can point the dashboard at another coordinator (`http://host:3000`); that choice is
 * kept in localStorage. The token is never stored: signing in sets an HttpOnly cookie.
 */

const STORAGE_KEY = "strata.coordinator";

/** Outcome of {@link parseCoordinatorAddress}: the normalised origin, or a message naming the field. */
export type AddressResult = { ok: true; address: string } | { ok: false; message: string };

/**
 * Validates a coordinator address typed by a user: empty for the page's origin, or an
 * `http(s)://host[:port]` origin. `localhost:3000` (no scheme) is accepted as
 * `http://localhost:3000` (the original rejected it). Paths, queries and credentials are refused.
 */
export function parseCoordinatorAddress(input: string): AddressResult {
  const trimmed = input.trim();
  if (trimmed === "") return { ok: true, address: "" };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { ok: false, message: "Coordinator address: expected http://host:port" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, message: "Coordinator address: use http:// or https://" };
  }
  if (url.username !== "" || url.password !== "") {
    return {
      ok: false,
      message: "Coordinator address: remove the user name and password (sign in with the token)",
    };
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    return { ok: false, message: "Coordinator address: give only the origin, without a path" };
  }
  return { ok: true, address: url.origin };
}

/** The saved coordinator origin, or `""` (the page's own origin). */
export function loadCoordinatorAddress(): string {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY) ?? "";
    const parsed = parseCoordinatorAddress(saved);
    return parsed.ok ? parsed.address : "";
  } catch {
    return "";
  }
}

/** Saves the coordinator origin (`""` forgets it). */
export function saveCoordinatorAddress(address: string): void {
  try {
    if (address === "") globalThis.localStorage?.removeItem(STORAGE_KEY);
    else globalThis.localStorage?.setItem(STORAGE_KEY, address);
  } catch {
    // Storage disabled: the choice lasts until the page reloads.
  }
}
