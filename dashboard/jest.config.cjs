// Two projects: component and unit tests in jsdom (src/**/*.test.ts[x]), and end-to-end tests in
// Node driving real Chromium against a real coordinator (test/e2e). Results still go through the
// shared reporter (jest-results.json), so CI counts them.
const { join } = require("node:path");
const preset = require("../jest.preset.cjs");

const transform = {
  "^.+\\.(t|j)sx?$": [
    "@swc/jest",
    {
      jsc: {
        target: "es2022",
        parser: { syntax: "typescript", tsx: true },
        transform: { react: { runtime: "automatic" } },
      },
      module: { type: "commonjs" },
    },
  ],
};

/** @type {import('jest').Config} */
module.exports = {
  reporters: preset.reporters,
  testTimeout: preset.testTimeout,
  projects: [
    {
      displayName: "unit",
      testEnvironment: join(__dirname, "test", "jsdom-environment.cjs"),
      testEnvironmentOptions: {
        customExportConditions: ["@strata/source", "browser", "require", "default"],
      },
      transform,
      moduleNameMapper: {
        "^(\\.{1,2}/.*)\\.js$": "$1",
        "^uplot$": join(__dirname, "test", "stubs", "uplot-stub.ts"),
        "\\.css$": join(__dirname, "test", "stubs", "style-stub.ts"),
      },
      setupFilesAfterEnv: [join(__dirname, "test", "setup-dom.ts")],
      testMatch: ["<rootDir>/src/**/*.test.ts", "<rootDir>/src/**/*.test.tsx"],
    },
    {
      displayName: "e2e",
      testEnvironment: "node",
      testEnvironmentOptions: preset.testEnvironmentOptions,
      transform,
      moduleNameMapper: preset.moduleNameMapper,
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
      testTimeout: 120_000,
    },
  ],
};
