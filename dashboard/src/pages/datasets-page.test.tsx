import { screen, waitFor } from "@testing-library/react";
import {
  datasetDetailFixture,
  datasetFixture,
  eventFixture,
} from "../../test/fixtures/api-fixtures.js";
import { renderApp } from "../../test/fixtures/render-app.js";

describe("datasets pages", () => {
  test("the list shows size, sharding and the active epoch's progress", async () => {
    renderApp("/datasets", {
      "GET /api/datasets": [
        datasetFixture(),
        datasetFixture({ id: "new", name: "new", epochs: [], active_epoch: null }),
      ],
    });
    expect(await screen.findByText("Epoch 0: 640,000 of 1,281,167 samples")).toBeTruthy();
    expect(screen.getByRole("progressbar", { name: "50%" })).toBeTruthy();
    expect(screen.getByText("No epoch started yet.")).toBeTruthy();
  });

  test("the detail shows the shard map, shards per worker and rebalances; a rebalance marks moved shards", async () => {
    let detail = datasetDetailFixture();
    const { live } = renderApp("/datasets/imagenet", {
      "GET /api/datasets/imagenet": () => detail,
    });
    const map = await screen.findByTestId("shard-map");
    expect(map.getAttribute("aria-label")).toBe(
      "Shard map: 129 shards, 2 workers, 0 moved in the last rebalance",
    );
    expect(screen.getByRole("link", { name: "w-0" })).toBeTruthy();
    expect(screen.getByText("43")).toBeTruthy();
    // w-1 leaves: its shards move to w-0 (the coordinator's re-plan, membership version 4).
    detail = datasetDetailFixture({
      membership_version: 4,
      workers: ["w-0"],
      owner: detail.owner.map(() => 0),
      shards_per_worker: { "w-0": 129 },
    });
    live.onEvent(
      eventFixture({ type: "shards_reassigned", dataset_id: "imagenet", worker_id: null }),
    );
    await waitFor(() =>
      expect(screen.getByTestId("shard-map").getAttribute("data-moved")).toBe("64"),
    );
    live.dispose();
  });
});
