// Shared jest settings for every package. Tests import TypeScript sources directly:
// @swc/jest compiles them to CommonJS, ".js" import suffixes are mapped back to the
// source files, and workspace packages resolve through their "@strata/source" export.
const { join } = require("node:path");

/** @type {import('jest').Config} */
module.exports = {
  reporters: ["default", join(__dirname, "scripts", "jest-results-reporter.cjs")],
  testEnvironment: "node",
  testEnvironmentOptions: {
    customExportConditions: ["@strata/source", "node", "require", "default"],
  },
  transform: {
    "^.+\\.(t|j)sx?$": [
      "@swc/jest",
      {
        jsc: { target: "es2022", parser: { syntax: "typescript" } },
        module: { type: "commonjs" },
      },
    ],
  },
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testMatch: ["<rootDir>/src/**/*.test.ts", "<rootDir>/test/**/*.test.ts"],
  testTimeout: 30_000,
  // A hanging handle fails loudly instead of stalling CI.
  forceExit: false,
};
