import { screen, within } from "@testing-library/react";
import { barrierFixture, NOW } from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";

describe("barriers page", () => {
  test("open barriers show arrivals and who is missing; finished ones their outcome", async () => {
    renderApp("/barriers", {
      "GET /api/barriers": [
        barrierFixture({
          arrived: 2,
          total: 4,
          arrived_ids: ["w-0", "w-3"],
          missing_ids: ["w-1", "w-2"],
        }),
        barrierFixture({
          id: "epoch-end",
          name: "epoch-end",
          status: "aborted",
          generation: 2,
          finished_at: NOW - 1_000,
          waited_ms: 1_500,
          abort_reason: "member_dead",
          deadline_at: null,
        }),
      ],
    });
    const card = await screen.findByTestId("barrier-step-sync");
    expect(within(card).getByText("2 of 4 arrived")).toBeTruthy();
    expect(within(card).getByText("Missing (2)")).toBeTruthy();
    expect(within(card).getByRole("link", { name: "w-1" })).toBeTruthy();
    expect(within(card).getByRole("link", { name: "w-2" })).toBeTruthy();
    expect(within(card).getByText(/times out in 4m 58s/)).toBeTruthy();
    expect(screen.getByText("aborted: member dead")).toBeTruthy();
    expect(screen.getByText("1s")).toBeTruthy();
  });
});
