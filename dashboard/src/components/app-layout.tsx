import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Outlet, useLocation } from "react-router";
import { useApi } from "../api/api-context.js";
import { statusQuery } from "../api/query-options.js";
import { formatTimestamp } from "../format.js";
import { useConnectionState } from "../live/use-live.js";
import { ConnectionIndicator } from "./connection-indicator.js";
import { Icon } from "./icons.js";
import { SidebarNav } from "./sidebar-nav.js";
import { ThemeSelect } from "./theme-select.js";

function Brand() {
  return (
    <div className="flex items-center gap-2 px-2.5 py-1">
      <svg viewBox="0 0 32 32" width={24} height={24} aria-hidden="true">
        <rect width="32" height="32" rx="7" className="fill-teal-700" />
        <path d="M7 10h18M7 16h18M7 22h18" stroke="#ccfbf1" strokeWidth="3" strokeLinecap="round" />
      </svg>
      <span className="text-lg font-semibold tracking-tight">Strata</span>
    </div>
  );
}

/** Which coordinator this is: version, role, gRPC address (from `/api/status`). */
function CoordinatorSummary() {
  const api = useApi();
  const status = useQuery(statusQuery(api));
  if (status.data === undefined) return null;
  const s = status.data;
  return (
    <p className="hidden truncate text-xs muted md:block" title={`coordinator ${s.coordinator_id}`}>
      v{s.version} · {s.role} · gRPC {s.grpc_address}
    </p>
  );
}

/** Says plainly that the page shows old data while the coordinator is unreachable. */
function StaleDataBanner() {
  const state = useConnectionState();
  if (state.status !== "offline" || state.lastLiveAt === null) return null;
  return (
    <div
      role="status"
      className="border-b border-amber-300 bg-amber-50 px-4 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100"
    >
      The coordinator has not answered since {formatTimestamp(state.lastLiveAt)}. What you see is
      from then; it updates as soon as the connection is back.
    </div>
  );
}

/**
 * The frame of every page: a skip link, the navigation (a sidebar from 1024 px, a menu button
 * below), the header with the live connection state, and the page.
 */
export function AppLayout() {
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  useEffect(() => {
    // Close the small-screen menu whenever the route changes.
    if (location.pathname) setMenuOpen(false);
  }, [location.pathname]);
  return (
    <div className="min-h-screen lg:grid lg:grid-cols-[14rem_1fr]">
      <a
        href="#main"
        className="sr-only z-50 rounded bg-teal-700 px-3 py-2 text-white focus:not-sr-only focus:fixed focus:top-2 focus:left-2"
      >
        Skip to content
      </a>
      <aside className="hidden border-r border-zinc-200 bg-white px-3 py-4 lg:flex lg:flex-col lg:gap-4 dark:border-zinc-800 dark:bg-zinc-900">
        <Brand />
        <SidebarNav />
        <div className="mt-auto px-1">
          <ThemeSelect id="theme-select-sidebar" />
        </div>
      </aside>
      <div className="min-w-0">
        <header className="sticky top-0 z-20 flex items-center gap-3 border-b border-zinc-200 bg-white px-4 py-2 dark:border-zinc-800 dark:bg-zinc-900">
          <button
            type="button"
            className="btn px-2 lg:hidden"
            aria-label={menuOpen ? "Close menu" : "Open menu"}
            aria-expanded={menuOpen}
            aria-controls="mobile-menu"
            onClick={() => setMenuOpen((open) => !open)}
          >
            <Icon name={menuOpen ? "close" : "menu"} />
          </button>
          <div className="lg:hidden">
            <Brand />
          </div>
          <CoordinatorSummary />
          <div className="ml-auto">
            <ConnectionIndicator />
          </div>
        </header>
        {menuOpen ? (
          <div
            id="mobile-menu"
            className="border-b border-zinc-200 bg-white px-3 py-3 lg:hidden dark:border-zinc-800 dark:bg-zinc-900"
          >
            <SidebarNav onNavigate={() => setMenuOpen(false)} />
            <div className="mt-3 px-1">
              <ThemeSelect id="theme-select-menu" />
            </div>
          </div>
        ) : null}
        <StaleDataBanner />
        <main id="main" tabIndex={-1} className="px-4 py-5 outline-none sm:px-6 2xl:px-10">
          <Outlet />
        </main>
      </div>
    </div>
  );
}
