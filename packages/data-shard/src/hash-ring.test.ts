import { Code, RuntimeError } from "@strata/runtime-core";
import fc from "fast-check";
import { createHashRing, hashRingFromState } from "./hash-ring.js";

const keys = Array.from({ length: 5000 }, (_, i) => `dataset-1:${i}`);

function owners(ring: ReturnType<typeof createHashRing>): (string | undefined)[] {
  return keys.map((k) => ring.getNode(k));
}

describe("hash ring", () => {
  it("supports the original's operations under clear names", () => {
    const ring = createHashRing();
    expect(ring.getNode("x")).toBeUndefined();
    expect(ring.nodeCount()).toBe(0);
    expect(ring.addNode("worker-2")).toBe(true);
    expect(ring.addNode("worker-1")).toBe(true);
    expect(ring.addNode("worker-1")).toBe(false); // already there, same weight
    expect(ring.nodeCount()).toBe(2);
    expect(ring.nodes()).toEqual(["worker-1", "worker-2"]);
    expect(ring.hasNode("worker-1")).toBe(true);
    expect(ring.hasNode("worker-3")).toBe(false);
    expect(["worker-1", "worker-2"]).toContain(ring.getNode("dataset-1:0"));
    expect(ring.nodeFor("dataset-1:0")).toBe(ring.getNode("dataset-1:0"));
    expect(ring.nodeForShard("dataset-1", 7)).toBe(ring.getNode("dataset-1:7"));
    const mine = ring.shardsForNode("worker-1", "dataset-1", 100);
    const theirs = ring.shardsForNode("worker-2", "dataset-1", 100);
    expect([...mine, ...theirs].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    for (const s of mine) expect(ring.nodeForShard("dataset-1", s)).toBe("worker-1");
    expect(ring.shardsForNode("nobody", "dataset-1", 100)).toEqual([]);
    expect(ring.removeNode("worker-2")).toBe(true);
    expect(ring.removeNode("worker-2")).toBe(false);
    expect(ring.getNode("anything")).toBe("worker-1");
    ring.clear();
    expect(ring.nodeCount()).toBe(0);
    expect(ring.getNode("anything")).toBeUndefined();
  });

  it("does not depend on the order nodes were added in (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 12 }),
        fc.infiniteStream(fc.nat()),
        (ids, randoms) => {
          const a = createHashRing({ virtualNodes: 20 });
          for (const id of ids) a.addNode(id);
          const shuffled = [...ids];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (randoms.next().value as number) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
          }
          const b = createHashRing({ virtualNodes: 20 });
          for (const id of shuffled) b.addNode(id);
          b.addNode("temporary");
          b.removeNode("temporary");
          for (let k = 0; k < 200; k++) expect(b.getNode(`k${k}`)).toBe(a.getNode(`k${k}`));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("moves only the removed node's keys on removal and only keys to the new node on addition", () => {
    const ring = createHashRing();
    for (let i = 0; i < 20; i++) ring.addNode(`worker-${i}`);
    const before = owners(ring);
    ring.removeNode("worker-7");
    const afterRemove = owners(ring);
    keys.forEach((_, i) => {
      if (before[i] !== "worker-7") expect(afterRemove[i]).toBe(before[i]);
      else expect(afterRemove[i]).not.toBe("worker-7");
    });
    ring.addNode("worker-new");
    const afterAdd = owners(ring);
    let movedToNew = 0;
    keys.forEach((_, i) => {
      if (afterAdd[i] !== afterRemove[i]) {
        expect(afterAdd[i]).toBe("worker-new");
        movedToNew++;
      }
    });
    // About 1/20 of the keys.
    expect(movedToNew).toBeGreaterThan(keys.length / 40);
    expect(movedToNew).toBeLessThan(keys.length / 10);
  });

  it("spreads consecutive shard keys well (no FNV-style clustering, nobody starved)", () => {
    const ring = createHashRing();
    for (let i = 0; i < 100; i++) ring.addNode(`worker-${i}`);
    const counts = new Map<string, number>();
    let runs = 0;
    let last: string | undefined;
    for (let s = 0; s < 10_000; s++) {
      const node = ring.nodeForShard("dataset-1", s) as string;
      counts.set(node, (counts.get(node) ?? 0) + 1);
      if (node !== last) runs++;
      last = node;
    }
    expect(counts.size).toBe(100);
    expect(Math.min(...counts.values())).toBeGreaterThan(50); // mean 100; the original's min was 25
    expect(Math.max(...counts.values())).toBeLessThan(160); // the original's max was 238
    expect(runs).toBeGreaterThan(9500); // independent keys: ≈ 9,900 runs; FNV gave 2,804
  });

  it("gives keys in proportion to weight", () => {
    const ring = createHashRing();
    ring.addNode("heavy", 3);
    ring.addNode("light-1");
    ring.addNode("light-2");
    expect(ring.weightOf("heavy")).toBe(3);
    const heavy = owners(ring).filter((o) => o === "heavy").length / keys.length;
    expect(heavy).toBeGreaterThan(0.5);
    expect(heavy).toBeLessThan(0.7); // 3/5 = 0.6
    expect(ring.addNode("heavy", 1)).toBe(true); // weight change
    const after = owners(ring).filter((o) => o === "heavy").length / keys.length;
    expect(after).toBeLessThan(0.45);
  });

  it("lists successors: the owner first, then who takes over if it leaves", () => {
    const ring = createHashRing();
    for (let i = 0; i < 6; i++) ring.addNode(`w${i}`);
    const list = ring.preferenceList("some-key", 10);
    expect(list).toHaveLength(6);
    expect(new Set(list).size).toBe(6);
    expect(list[0]).toBe(ring.getNode("some-key"));
    ring.removeNode(list[0] as string);
    expect(ring.getNode("some-key")).toBe(list[1]);
    expect(ring.preferenceList("some-key", 0)).toEqual([]);
  });

  it("round-trips through toState / hashRingFromState (and JSON)", () => {
    const ring = createHashRing({ virtualNodes: 50, seed: 9n });
    ring.addNode("b", 2);
    ring.addNode("a");
    const state = ring.toState();
    expect(state).toEqual({
      virtualNodes: 50,
      seed: "9",
      nodes: [
        { id: "a", weight: 1 },
        { id: "b", weight: 2 },
      ],
    });
    const copy = hashRingFromState(JSON.parse(JSON.stringify(state)));
    for (const k of keys.slice(0, 500)) expect(copy.getNode(k)).toBe(ring.getNode(k));
    // A different seed places nodes differently.
    const other = createHashRing({ virtualNodes: 50, seed: 10n });
    other.addNode("b", 2);
    other.addNode("a");
    expect(keys.slice(0, 500).some((k) => other.getNode(k) !== ring.getNode(k))).toBe(true);
  });

  it.each([
    [
      "virtualNodes 0",
      () => createHashRing({ virtualNodes: 0 }),
      /virtualNodes must be at least 1/,
    ],
    [
      "fractional virtualNodes",
      () => createHashRing({ virtualNodes: 1.5 }),
      /virtualNodes must be an integer/,
    ],
    ["an empty node id", () => createHashRing().addNode(""), /id must not be empty/],
    ["a zero weight", () => createHashRing().addNode("a", 0), /weight must be greater than 0/],
    [
      "a negative weight",
      () => createHashRing().addNode("a", -2),
      /weight must be between 0 and 1000000/,
    ],
    [
      "a non-string key",
      () => createHashRing().getNode(5 as unknown as string),
      /key must be a string/,
    ],
    [
      "a bad state seed",
      () => hashRingFromState({ virtualNodes: 5, seed: "x", nodes: [] }),
      /state\.seed/,
    ],
    [
      "a duplicate node in state",
      () =>
        hashRingFromState({
          virtualNodes: 5,
          seed: "1",
          nodes: [
            { id: "a", weight: 1 },
            { id: "a", weight: 1 },
          ],
        }),
      /state\.nodes\[1\]\.id is a duplicate/,
    ],
  ])("rejects %s with InvalidArgument", (_name, fn, message) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe(Code.InvalidArgument);
    expect((error as RuntimeError).message).toMatch(message);
  });
});
