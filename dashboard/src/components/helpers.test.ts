import { datasetDetailFixture, eventFixture } from "../../test/fixtures/api-fixtures.js";
import { parseCoordinatorAddress } from "../api/coordinator-address.js";
import { matchesEventFilters, mergeEvents } from "./event-filters.js";
import { mergeHistory } from "./history-chart.js";
import { movedShards, shardSize } from "./shard-map.js";
import { validateTaskForm } from "./task-form-validation.js";
import { workerColor } from "./worker-color.js";

describe("coordinator address", () => {
  test.each([
    ["", { ok: true, address: "" }],
    ["  http://10.0.0.5:3000/ ", { ok: true, address: "http://10.0.0.5:3000" }],
    ["localhost:3000", { ok: true, address: "http://localhost:3000" }],
    ["https://strata.example.com", { ok: true, address: "https://strata.example.com" }],
    ["ftp://x", { ok: false, message: "Coordinator address: use http:// or https://" }],
    [
      "http://a:b@host:1",
      {
        ok: false,
        message: "Coordinator address: remove the user name and password (sign in with the token)",
      },
    ],
    [
      "http://host:1/api?x=1",
      { ok: false, message: "Coordinator address: give only the origin, without a path" },
    ],
    ["http://[bad", { ok: false, message: "Coordinator address: expected http://host:port" }],
  ])("%j", (input, expected) => {
    expect(parseCoordinatorAddress(input)).toEqual(expected);
  });
});

describe("task form", () => {
  const valid = {
    name: "a",
    type: "train",
    datasetId: "",
    workerCount: "3",
    totalSteps: "",
    config: "",
  };
  test("a valid form becomes the API request", () => {
    expect(validateTaskForm({ ...valid, totalSteps: "100", config: '{"lr": 0.1}' })).toEqual({
      ok: true,
      request: {
        name: "a",
        type: "train",
        dataset_id: "",
        worker_count: 3,
        config: { lr: 0.1, total_steps: 100 },
      },
    });
  });
  test("each bad field gets a message naming it", () => {
    const result = validateTaskForm({
      name: "x".repeat(129),
      type: "",
      datasetId: "",
      workerCount: "1.5",
      totalSteps: "0",
      config: "[1]",
    });
    expect(result).toEqual({
      ok: false,
      errors: {
        name: "Name: at most 128 characters",
        type: "Type: required",
        workerCount: "Workers: a whole number, at least 1",
        totalSteps: "Total steps: a whole number, at least 1 (or empty)",
        config: 'Config: must be a JSON object, like {"lr": 0.001}',
      },
    });
  });
});

describe("event filters", () => {
  test("type, worker, task exact; level a minimum; q in the message", () => {
    const e = eventFixture({
      type: "worker_dead",
      level: "warn",
      worker_id: "w-1",
      message: "Worker w-1 DECLARED dead",
    });
    const none = { q: "", type: "", level: "", worker: "", task: "" };
    expect(matchesEventFilters(e, none)).toBe(true);
    expect(matchesEventFilters(e, { ...none, q: "declared" })).toBe(true);
    expect(matchesEventFilters(e, { ...none, q: "alive" })).toBe(false);
    expect(matchesEventFilters(e, { ...none, level: "info" })).toBe(true);
    expect(matchesEventFilters(e, { ...none, level: "error" })).toBe(false);
    expect(matchesEventFilters(e, { ...none, worker: "w-10" })).toBe(false);
    expect(matchesEventFilters(e, { ...none, type: "worker_dead", task: "t" })).toBe(false);
  });
  test("pages and live events merge newest first, each seq once", () => {
    const a = eventFixture({ seq: 1 });
    const b = eventFixture({ seq: 2 });
    const c = eventFixture({ seq: 3 });
    const none = { q: "", type: "", level: "", worker: "", task: "" };
    expect(mergeEvents([[a, b], [a]], [b, c], none).map((e) => e.seq)).toEqual([3, 2, 1]);
  });
});

describe("history merge", () => {
  test("history first, then live samples newer than it, nothing before the window", () => {
    const merged = mergeHistory(
      { timestamps: [1_000, 2_000, 3_000], series: { s: [1, null, 3] } },
      { at: [2_500, 3_000, 4_000, 5_000], series: { s: [9, 9, 4, 5] } },
      ["s", "missing"],
      2_000,
    );
    expect(merged).toEqual({
      x: [2_000, 3_000, 4_000, 5_000],
      ys: [
        [null, 3, 4, 5],
        [null, null, null, null],
      ],
    });
  });
  test("without history (a new coordinator), live samples alone", () => {
    expect(mergeHistory(undefined, { at: [1, 2], series: { s: [7, 8] } }, ["s"], 0)).toEqual({
      x: [1, 2],
      ys: [[7, 8]],
    });
  });
});

describe("shard map helpers", () => {
  test("the last shard is shorter", () => {
    expect(shardSize(0, 1_281_167, 10_000)).toBe(10_000);
    expect(shardSize(128, 1_281_167, 10_000)).toBe(1_167);
    expect(shardSize(129, 1_281_167, 10_000)).toBe(0);
  });
  test("moves are counted only across a membership change of the same page, by owner id", () => {
    const before = datasetDetailFixture({ owner: [0, 1, 1, -1], workers: ["w-0", "w-1"] });
    // Same owners under reordered worker indexes: nothing moved.
    expect(
      movedShards(before, {
        ...before,
        membership_version: 9,
        workers: ["w-1", "w-0"],
        owner: [1, 0, 0, -1],
      }).size,
    ).toBe(0);
    expect([
      ...movedShards(before, {
        ...before,
        membership_version: 9,
        workers: ["w-0"],
        owner: [0, 0, 0, 0],
      }),
    ]).toEqual([1, 2]);
    expect(movedShards(before, { ...before, owner: [0, 0, 0, 0] }).size).toBe(0);
    expect(movedShards(undefined, before).size).toBe(0);
  });
  test("worker colours are stable", () => {
    expect(workerColor("w-7")).toBe(workerColor("w-7"));
    expect(workerColor("w-7")).toMatch(/^#[0-9a-f]{6}$/);
  });
});
