import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link } from "react-router";
import { ApiRequestError } from "../api/api-request-error.js";

/** Why a request failed, in words, with a way forward (sign in, retry). */
export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const unauthenticated = error instanceof ApiRequestError && error.unauthenticated;
  const notFound = error instanceof ApiRequestError && error.status === 404;
  return (
    <div
      role="alert"
      className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100"
    >
      {unauthenticated ? (
        <>
          This coordinator needs its access token.{" "}
          <Link className="font-medium underline" to="/settings">
            Sign in on the settings page
          </Link>
          .
        </>
      ) : (
        <>
          {notFound ? "Not found: " : "Could not load: "}
          {error instanceof Error ? error.message : String(error)}
          {onRetry === undefined || notFound ? null : (
            <button type="button" className="ml-2 font-medium underline" onClick={onRetry}>
              Try again
            </button>
          )}
        </>
      )}
    </div>
  );
}

/** A loading line for a region (announced politely to screen readers). */
export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p role="status" className="py-6 text-center text-sm muted">
      {label}
    </p>
  );
}

/** An empty region: what is missing and, optionally, what makes it appear. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-md border border-dashed border-zinc-300 px-4 py-8 text-center dark:border-zinc-700">
      <p className="font-medium">{title}</p>
      {children === undefined ? null : <div className="mt-1 text-sm muted">{children}</div>}
    </div>
  );
}

/**
 * Renders `children(data)` once a query has data; a loading line before; an error notice with a
 * retry when it failed without data (with data, the stale data stays and the error shows above).
 */
export function QueryStatus<T>({
  query,
  loadingLabel,
  children,
}: {
  query: UseQueryResult<T>;
  loadingLabel?: string;
  children: (data: T) => ReactNode;
}) {
  if (query.data !== undefined) {
    return (
      <>
        {query.isError ? (
          <ErrorNotice error={query.error} onRetry={() => void query.refetch()} />
        ) : null}
        {children(query.data)}
      </>
    );
  }
  if (query.isError)
    return <ErrorNotice error={query.error} onRetry={() => void query.refetch()} />;
  return <Loading {...(loadingLabel === undefined ? {} : { label: loadingLabel })} />;
}
