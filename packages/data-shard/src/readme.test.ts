import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as lib from "./index.js";

/** Runs every ```ts block of the README against the sources, so the examples cannot rot. */
const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);

describe("README examples", () => {
  it("has examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  it.each(blocks.map((code, i) => [i, code] as const))("example %i runs", (_i, code) => {
    const js = code.replace(
      /import\s*\{([\s\S]*?)\}\s*from\s*"@strata\/data-shard";/g,
      "const {$1} = lib;",
    );
    expect(js).not.toMatch(/\bimport\b/);
    const lines: unknown[][] = [];
    const quietConsole = { log: (...args: unknown[]) => lines.push(args) };
    new Function("lib", "console", js)(lib, quietConsole);
    expect(lines.length).toBeGreaterThan(0);
  });

  it("prints what the comments promise for the checked examples", () => {
    const g = lib.datasetGeometry({ totalSamples: 1005, shardSize: 100 });
    expect([lib.shardRange(g, 10), lib.shardLength(g, 10), lib.shardOfSample(g, 999)]).toEqual([
      { start: 1000, end: 1005 },
      5,
      9,
    ]);
    const geometry = lib.datasetGeometry({ totalSamples: 1_281_167, shardSize: 1024 });
    expect(geometry.totalShards).toBe(1252);
  });
});
