import { Code } from "@strata/runtime-core";
import { validateKey, validatePrefix } from "../src/index.js";

describe("validateKey", () => {
  it.each([
    ["C0", "a\u0001b"],
    ["DEL", "a\u007fb"],
    ["the first C1", "a\u0080b"],
    ["CSI (C1)", "run\u009b2J/x"],
    ["the last C1", "a\u009fb"],
  ])("rejects %s control characters, naming the rule", (_name, key) => {
    expect(() => validateKey(key)).toThrow(
      expect.objectContaining({
        code: Code.InvalidArgument,
        message: expect.stringContaining("control character"),
      }),
    );
    expect(() => validatePrefix(`${key}/`)).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument }),
    );
  });

  it("accepts printable characters right after the C1 range and other scripts", () => {
    for (const key of ["a\u00a0b", "caf\u00e9/\u00ff", "\u65e5\u672c/\u8a9e", "emoji-\u{1f600}"]) {
      expect(validateKey(key)).toBe(key);
    }
  });
});
