import { act, screen } from "@testing-library/react";
import { NOW } from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";
import { formatClockTime } from "../format.js";

describe("connection indicator", () => {
  test("shows live, reconnecting, offline since a time, and sign-in states", async () => {
    const { store } = renderApp("/settings", {
      "GET /api/session": { auth_required: false, authenticated: false },
    });
    const indicator = await screen.findByTestId("connection-state");
    expect(indicator.textContent).toContain("Connecting…");
    const set = (state: Parameters<typeof store.setConnection>[0]) =>
      act(() => store.setConnection(state));
    set({
      status: "live",
      since: NOW,
      lastLiveAt: NOW,
      attempt: 0,
      nextRetryAt: null,
      error: null,
    });
    expect(indicator.textContent).toContain("Live");
    expect(indicator.getAttribute("data-status")).toBe("live");
    set({
      status: "reconnecting",
      since: NOW,
      lastLiveAt: NOW,
      attempt: 3,
      nextRetryAt: NOW + 500,
      error: "HTTP 503",
    });
    expect(indicator.textContent).toContain("Reconnecting… (attempt 3)");
    expect(screen.getByRole("button", { name: "Retry now" })).toBeTruthy();
    const lostAt = Date.now() - 125_000;
    set({
      status: "offline",
      since: lostAt,
      lastLiveAt: lostAt,
      attempt: 9,
      nextRetryAt: null,
      error: "HTTP 503",
    });
    expect(indicator.textContent).toContain(`Offline since ${formatClockTime(lostAt)} (2m 5s ago)`);
    set({
      status: "unauthorized",
      since: NOW,
      lastLiveAt: null,
      attempt: 1,
      nextRetryAt: null,
      error: null,
    });
    expect(indicator.textContent).toContain("Sign in required");
    expect(screen.getByRole("link", { name: "Sign in" }).getAttribute("href")).toBe("/settings");
  });
});
