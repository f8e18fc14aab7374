#!/usr/bin/env node
// Sums every package's jest-results.json (written by scripts/jest-results-reporter.cjs) and
// prints one plain line: "N passed, N failed[, N skipped]". Suites that crashed before running
// any test count as one failure each, so a broken suite never hides behind "0 failed".
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const folders = [
  "proto",
  "dashboard",
  "python", // pytest, through python/scripts/run_tests.py
  "docs", // the root README's, CONTRIBUTING's and proto README's examples
  ...readdirSync(join(root, "packages")).map((p) => join("packages", p)),
];
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const folder of folders) {
  const file = join(root, folder, "jest-results.json");
  if (!existsSync(join(root, folder, "package.json"))) continue;
  if (!existsSync(file)) {
    missing.push(folder);
    continue;
  }
  const r = JSON.parse(readFileSync(file, "utf8"));
  passed += r.passed;
  failed += r.failed + (r.failed === 0 ? r.failedSuites : 0);
  skipped += r.skipped;
}
// A package whose tests never ran (build failed, turbo stopped) is a failure too.
failed += missing.length;
if (missing.length > 0) console.log(`no test results from: ${missing.join(", ")}`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
