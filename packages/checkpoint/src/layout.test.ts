import { Code } from "@strata/runtime-core";
import { CheckpointLayout, newAttemptId, packFileName, validateJobId } from "./layout.js";

describe("CheckpointLayout", () => {
  const layout = new CheckpointLayout("ckpt/", "run-7");

  test("builds zero-padded keys that sort numerically", () => {
    expect(layout.jobRoot).toBe("ckpt/run-7/");
    expect(layout.stepManifestKey(12345)).toBe("ckpt/run-7/step-000000012345/MANIFEST.json");
    expect(layout.rankManifestKey(12345, 3, "a1")).toBe(
      "ckpt/run-7/step-000000012345/rank-00003/a1/MANIFEST.json",
    );
    expect(layout.legacyRankManifestKey(12345, 3)).toBe(
      "ckpt/run-7/step-000000012345/rank-00003/MANIFEST.json",
    );
    expect(layout.deletingKey(5)).toBe("ckpt/run-7/step-000000000005/DELETING");
    const keys = [100, 9, 20].map((s) => layout.stepDir(s)).sort();
    expect(keys).toEqual([layout.stepDir(9), layout.stepDir(20), layout.stepDir(100)]);
    expect(new CheckpointLayout("", "j").jobRoot).toBe("j/");
  });

  test("parses its own keys and nothing else", () => {
    expect(layout.parse("ckpt/run-7/step-000000000005/MANIFEST.json")).toEqual({
      step: 5,
      kind: "step-manifest",
    });
    expect(layout.parse("ckpt/run-7/step-000000000005/rank-00002/MANIFEST.json")).toEqual({
      step: 5,
      rank: 2,
      kind: "legacy-rank-manifest",
    });
    expect(layout.parse("ckpt/run-7/step-000000000005/rank-00002/a1/MANIFEST.json")).toEqual({
      step: 5,
      rank: 2,
      attemptId: "a1",
      kind: "rank-manifest",
    });
    expect(layout.parse("ckpt/run-7/step-000000000005/rank-00002/a1/pack-00000.bin")).toEqual({
      step: 5,
      rank: 2,
      attemptId: "a1",
      kind: "data",
    });
    expect(layout.parse("ckpt/run-7/step-000000000005/rank-00002/stray.bin")).toEqual({
      step: 5,
      rank: 2,
      attemptId: undefined,
      kind: "data",
    });
    expect(layout.parse("ckpt/run-7/step-000000000005/DELETING")).toEqual({
      step: 5,
      kind: "deleting",
    });
    expect(layout.parse("ckpt/run-7/step-000000000005/notes.txt")).toEqual({
      step: 5,
      kind: "other",
    });
    expect(layout.parse("ckpt/run-7/LATEST")).toBeUndefined();
    expect(layout.parse("ckpt/run-70/step-000000000005/MANIFEST.json")).toBeUndefined();
    expect(layout.parse("ckpt/run-7/step-5/MANIFEST.json")).toBeUndefined();
    expect(layout.owns("ckpt/run-70/x")).toBe(false);
    expect(layout.owns("ckpt/run-7/x")).toBe(true);
  });

  test("refuses manifest keys that escape the rank folder", () => {
    const dir = layout.rankDir(1, 0);
    expect(layout.resolve(dir, "abc/obj.bin")).toBe(`${dir}abc/obj.bin`);
    expect(() => layout.resolve(dir, "../../x")).toThrow();
  });

  test("validates job ids and prefixes", () => {
    for (const bad of ["", "../x", "a/b", ".hidden", "x".repeat(129), "sp ace"]) {
      expect(() => validateJobId(bad)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }),
      );
    }
    expect(() => new CheckpointLayout("a//b", "j")).toThrow(/prefix/);
    expect(() => new CheckpointLayout("/abs", "j")).toThrow(/prefix/);
  });

  test("pack file names sort by index", () => {
    expect(packFileName(3)).toBe("pack-00003.bin");
  });

  test("attempt ids sort by the time they were made", () => {
    expect(newAttemptId(1_764_430_000_000, "3fa2c91b")).toBe("1764430000000-3fa2c91b");
    expect(newAttemptId(5, "ff")).toBe("0000000000005-ff");
    expect(newAttemptId(99, "00") > newAttemptId(100 - 2, "ff")).toBe(true);
  });
});
