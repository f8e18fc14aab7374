import type { AnchorHTMLAttributes, MouseEvent } from "react";
import type { NavigateFunction } from "react-router";

/**
 * A plain link for big tables: an `<a href>` marked `data-route`, whose clicks a container turns
 * into client-side navigation with {@link handleRouteClick}. Cheaper than react-router's `Link`
 * (no hooks per cell), which matters when a thousand live rows re-render every second; still a
 * real link for the keyboard, middle-click and "open in new tab".
 */
export function RouteAnchor(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  return <a data-route="" {...props} />;
}

/**
 * Handles a click inside a container of {@link RouteAnchor}s: a plain left click on one navigates
 * within the app (returns true); modified clicks keep the browser's behaviour.
 */
export function handleRouteClick(event: MouseEvent, navigate: NavigateFunction): boolean {
  if (event.defaultPrevented || event.button !== 0) return false;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
  const anchor = (event.target as Element).closest?.("a[data-route]");
  if (anchor === null || anchor === undefined) return false;
  event.preventDefault();
  navigate(anchor.getAttribute("href") ?? "/");
  return true;
}
