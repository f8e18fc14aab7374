import { fireEvent, screen, waitFor } from "@testing-library/react";
import { statusFixture } from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";

describe("settings page", () => {
  test("signs in with the token in a POST body (never a URL), then shows the session", async () => {
    let authenticated = false;
    const { requests } = renderApp("/settings", {
      "GET /api/session": () => ({ auth_required: true, authenticated }),
      "GET /api/status": () =>
        authenticated
          ? statusFixture({ auth: true })
          : { status: 401, body: { code: "unauthenticated", message: "missing token" } },
      "POST /api/session": (request) => {
        if ((request.body as { token: string }).token !== "s3cret") {
          return { status: 401, body: { code: "unauthenticated", message: "wrong token" } };
        }
        authenticated = true;
        return { status: 204 };
      },
    });
    const input = await screen.findByLabelText("Token");
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("Token: required")).toBeTruthy();

    fireEvent.change(input, { target: { value: "wrong" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("Token: the coordinator refused this token")).toBeTruthy();
    expect(input.getAttribute("aria-invalid")).toBe("true");

    fireEvent.change(input, { target: { value: "s3cret" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText(/^Signed in\./)).toBeTruthy();
    await waitFor(() => expect(screen.getByText("standalone")).toBeTruthy());

    const posts = requests.filter((r) => r.method === "POST" && r.path === "/api/session");
    expect(posts.map((r) => r.body)).toEqual([{ token: "wrong" }, { token: "s3cret" }]);
    for (const request of requests) {
      expect(`${request.path}?${request.query}`).not.toContain("s3cret");
      expect(request.headers.authorization).toBeUndefined();
    }
    expect(JSON.stringify(localStorage)).not.toContain("s3cret");
  });

  test("a coordinator without a token says so", async () => {
    renderApp("/settings", {
      "GET /api/session": { auth_required: false, authenticated: false },
      "GET /api/status": statusFixture(),
    });
    expect(await screen.findByText("This coordinator does not require a token.")).toBeTruthy();
  });

  test("the coordinator address is validated, normalised and saved", async () => {
    renderApp("/settings", {
      "GET /api/session": { auth_required: false, authenticated: false },
      "GET /api/status": statusFixture(),
    });
    const input = await screen.findByLabelText("HTTP address");
    fireEvent.change(input, { target: { value: "ftp://coordinator:21" } });
    fireEvent.click(screen.getByRole("button", { name: "Save and reconnect" }));
    expect(await screen.findByText("Coordinator address: use http:// or https://")).toBeTruthy();
    fireEvent.change(input, { target: { value: "coordinator.lan:3000" } });
    fireEvent.click(screen.getByRole("button", { name: "Save and reconnect" }));
    await waitFor(() =>
      expect(localStorage.getItem("strata.coordinator")).toBe("http://coordinator.lan:3000"),
    );
    expect(screen.queryByText(/Coordinator address:/)).toBeNull();
  });
});
