import { Code } from "@strata/runtime-core";
import { normalizeRetention, planRetention } from "./retention.js";

const candidates = (steps: number[], createdAtMs = (s: number) => s) =>
  steps.map((step) => ({ step, createdAtMs: createdAtMs(step) }));

describe("planRetention", () => {
  test("keeps the last N by step", () => {
    const plan = planRetention(candidates([1, 2, 3, 4, 5]), normalizeRetention({ keepLast: 2 }), 5);
    expect(plan.keep).toEqual([4, 5]);
    expect(plan.delete).toEqual([1, 2, 3]);
  });

  test("keeps every K-th step on top", () => {
    const plan = planRetention(
      candidates([10, 20, 30, 40, 50]),
      normalizeRetention({ keepLast: 1, keepEvery: 20 }),
      50,
    );
    expect(plan.keep).toEqual([20, 40, 50]);
    expect(plan.reasons.get(20)).toEqual(["every 20"]);
  });

  test("keeps the newest verified step and everything newer", () => {
    const plan = planRetention(candidates([1, 2, 3, 4, 5]), normalizeRetention({ keepLast: 1 }), 2);
    expect(plan.keep).toEqual([2, 3, 4, 5]);
    expect(plan.reasons.get(2)).toContain("newest verified");
  });

  test("deletes nothing without a verified step", () => {
    const plan = planRetention(
      candidates([1, 2, 3]),
      normalizeRetention({ keepLast: 1 }),
      undefined,
    );
    expect(plan.delete).toEqual([]);
  });

  test("keeps the most recently created step even with a low step number", () => {
    const created = (s: number) => (s === 1 ? 999 : s);
    const plan = planRetention(
      candidates([1, 5, 6], created),
      normalizeRetention({ keepLast: 1 }),
      6,
    );
    expect(plan.keep).toEqual([1, 6]);
    expect(plan.reasons.get(1)).toEqual(["most recently created"]);
  });

  test("an empty job plans nothing", () => {
    expect(planRetention([], normalizeRetention({ keepLast: 3 }), undefined)).toMatchObject({
      keep: [],
      delete: [],
    });
  });
});

describe("normalizeRetention", () => {
  test.each([
    [{ keepLast: 0 }, "keepLast"],
    [{ keepLast: 1.5 }, "keepLast"],
    [{ keepLast: 2, keepEvery: -1 }, "keepEvery"],
    [{ keepLast: 2, orphanGraceMs: -5 }, "orphanGraceMs"],
  ])("rejects %j naming %s", (policy, field) => {
    expect(() => normalizeRetention(policy)).toThrow(
      expect.objectContaining({
        code: Code.InvalidArgument,
        message: expect.stringContaining(field),
      }),
    );
  });

  test("fills defaults", () => {
    expect(normalizeRetention({ keepLast: 2 })).toEqual({
      keepLast: 2,
      keepEvery: 0,
      orphanGraceMs: 3_600_000,
    });
  });
});
