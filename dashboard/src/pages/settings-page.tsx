import type { HealthResponse, SessionResponse } from "@strata/coordinator/api";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useApiContext } from "../api/api-context.js";
import { ApiRequestError } from "../api/api-request-error.js";
import { parseCoordinatorAddress } from "../api/coordinator-address.js";
import { sessionQuery, statusQuery } from "../api/query-options.js";
import { DefinitionGrid } from "../components/definition-grid.js";
import { PageHeader } from "../components/page-header.js";
import { QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { ThemeSelect } from "../components/theme-select.js";
import { formatDurationMs } from "../format.js";
import { useLiveContext } from "../live/live-context.js";
import { useConnectionState } from "../live/use-live.js";

function AddressForm() {
  const { api, setAddress } = useApiContext();
  const [text, setText] = useState(api.baseUrl);
  const [error, setError] = useState<string | null>(null);
  const [check, setCheck] = useState<string | null>(null);
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseCoordinatorAddress(text);
    if (!parsed.ok) {
      setError(parsed.message);
      return;
    }
    setError(null);
    setText(parsed.address);
    setAddress(parsed.address);
    setCheck(null);
  };
  const test = async () => {
    const parsed = parseCoordinatorAddress(text);
    if (!parsed.ok) {
      setError(parsed.message);
      return;
    }
    setError(null);
    setCheck("Checking…");
    try {
      const response = await fetch(`${parsed.address}/api/health`, { cache: "no-store" });
      const body = (await response.json()) as HealthResponse;
      setCheck(
        response.ok && body.status === "ok"
          ? "The coordinator answers."
          : `HTTP ${response.status}`,
      );
    } catch (e) {
      setCheck(`No answer: ${(e as Error).message}`);
    }
  };
  return (
    <form
      className="card space-y-3 p-4"
      onSubmit={onSubmit}
      noValidate
      aria-label="Coordinator address"
    >
      <h2 className="text-sm font-semibold">Coordinator address</h2>
      <p className="text-sm muted">
        Empty: the coordinator that serves this page ({globalThis.location?.origin}). Another
        coordinator must allow this origin (CORS).
      </p>
      <div>
        <label htmlFor="coordinator-address" className="label">
          HTTP address
        </label>
        <input
          id="coordinator-address"
          className="input max-w-md"
          value={text}
          placeholder="http://coordinator:3000"
          onChange={(e) => setText(e.target.value)}
          aria-invalid={error !== null}
          aria-describedby={error === null ? undefined : "coordinator-address-error"}
        />
        {error === null ? null : (
          <p id="coordinator-address-error" className="mt-1 text-sm text-red-700 dark:text-red-400">
            {error}
          </p>
        )}
      </div>
      <div className="flex flex-wrap items-center gap-2">
        <button type="submit" className="btn btn-primary">
          Save and reconnect
        </button>
        <button type="button" className="btn" onClick={() => void test()}>
          Test
        </button>
        <span className="text-sm muted" role="status">
          {check}
        </span>
      </div>
    </form>
  );
}

function SignInForm() {
  const { api } = useApiContext();
  const { reconnect } = useLiveContext();
  const queryClient = useQueryClient();
  const session = useQuery(sessionQuery(api));
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const afterChange = async () => {
    await queryClient.invalidateQueries();
    reconnect();
  };
  const signIn = useMutation({
    mutationFn: (value: string) => api.send<void>("POST", "/api/session", { token: value }),
    onSuccess: async () => {
      setToken("");
      setError(null);
      await afterChange();
    },
    onError: (e) =>
      setError(
        e instanceof ApiRequestError && e.status === 401
          ? "Token: the coordinator refused this token"
          : `Token: ${e.message}`,
      ),
  });
  const signOut = useMutation({
    mutationFn: () => api.send<void>("DELETE", "/api/session"),
    onSuccess: afterChange,
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim() === "") {
      setError("Token: required");
      return;
    }
    signIn.mutate(token.trim());
  };
  return (
    <section className="card space-y-3 p-4" aria-label="Sign in">
      <h2 className="text-sm font-semibold">Access token</h2>
      <QueryStatus query={session}>
        {(s: SessionResponse) =>
          !s.auth_required ? (
            <p className="text-sm">This coordinator does not require a token.</p>
          ) : s.authenticated ? (
            <div className="flex flex-wrap items-center gap-3">
              <p className="text-sm">
                Signed in. The session lives in an HttpOnly cookie; the token is not kept by the
                page.
              </p>
              <button
                type="button"
                className="btn"
                onClick={() => signOut.mutate()}
                disabled={signOut.isPending}
              >
                Sign out
              </button>
            </div>
          ) : (
            <form onSubmit={onSubmit} noValidate className="space-y-2">
              <p className="text-sm">
                This coordinator requires its token (<code>--auth-token</code>). Signing in sets an
                HttpOnly cookie, so the token never appears in a URL or in page storage.
              </p>
              <div>
                <label htmlFor="auth-token" className="label">
                  Token
                </label>
                <input
                  id="auth-token"
                  type="password"
                  autoComplete="current-password"
                  className="input max-w-md"
                  value={token}
                  onChange={(e) => setToken(e.target.value)}
                  aria-invalid={error !== null}
                  aria-describedby={error === null ? undefined : "auth-token-error"}
                />
                {error === null ? null : (
                  <p id="auth-token-error" className="mt-1 text-sm text-red-700 dark:text-red-400">
                    {error}
                  </p>
                )}
              </div>
              <button type="submit" className="btn btn-primary" disabled={signIn.isPending}>
                {signIn.isPending ? "Signing in…" : "Sign in"}
              </button>
            </form>
          )
        }
      </QueryStatus>
    </section>
  );
}

function CoordinatorInfo() {
  const { api } = useApiContext();
  const status = useQuery(statusQuery(api));
  const connection = useConnectionState();
  const { stream } = useLiveContext();
  return (
    <section className="card space-y-3 p-4" aria-label="Coordinator">
      <h2 className="text-sm font-semibold">Coordinator</h2>
      <QueryStatus query={status}>
        {(s) => (
          <DefinitionGrid
            columns={2}
            items={[
              ["Version", s.version],
              ["Role", s.role],
              [
                "Id",
                <span key="id" className="font-mono text-xs">
                  {s.coordinator_id}
                </span>,
              ],
              ["gRPC address", s.grpc_address],
              ["HTTP address", s.http_address],
              ["State store", s.store],
              ["Started", <RelativeTime key="st" ms={s.started_at} absolute />],
              ["Heartbeat timeout", formatDurationMs(s.heartbeat_timeout_ms)],
              ["Token required", s.auth ? "yes" : "no"],
              [
                "Leader",
                s.leader === null ? "none known" : `${s.leader.id} (${s.leader.http_address})`,
              ],
              ["Membership version", s.membership_version],
              ["World size", s.world_size],
            ]}
          />
        )}
      </QueryStatus>
      <p className="text-sm muted">
        Live stream: {connection.status}
        {connection.error ? ` (${connection.error})` : ""} · last event seq{" "}
        {stream?.lastEventId ?? "—"}
      </p>
      <button type="button" className="btn" onClick={() => void status.refetch()}>
        Refresh
      </button>
    </section>
  );
}

/** Settings: which coordinator, signing in with its token, the theme, and what the coordinator is. */
export function SettingsPage() {
  return (
    <div>
      <PageHeader title="Settings" />
      <div className="grid gap-4 xl:grid-cols-2">
        <AddressForm />
        <SignInForm />
        <section className="card space-y-3 p-4" aria-label="Appearance">
          <h2 className="text-sm font-semibold">Appearance</h2>
          <ThemeSelect id="theme-select-settings" />
        </section>
        <CoordinatorInfo />
      </div>
    </div>
  );
}
