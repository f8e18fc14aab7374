// A jest reporter that writes the run's pass/fail counts to jest-results.json in the package
// folder, so .ci/run can print one plain "N passed, N failed" line for the whole monorepo.
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");

class JestResultsReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }
  onRunComplete(_contexts, results) {
    const summary = {
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
      failedSuites: results.numFailedTestSuites,
      runtimeErrorSuites: results.numRuntimeErrorTestSuites,
    };
    writeFileSync(join(this.rootDir, "jest-results.json"), `${JSON.stringify(summary, null, 2)}\n`);
  }
}
module.exports = JestResultsReporter;
