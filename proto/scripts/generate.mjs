#!/usr/bin/env node
// Generates src/gen/coordinator.ts from coordinator.proto with ts-proto, using the protoc binary
// shipped in the `protoc` npm package (no system protoc needed).
// `--check` regenerates into a temporary folder and fails if the committed code differs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const protocDir = dirname(require.resolve("protoc/package.json"));
const platform = {
  "linux-x64": "linux-x86_64",
  "linux-arm64": "linux-aarch_64",
  "darwin-x64": "osx-x86_64",
  "darwin-arm64": "osx-aarch_64",
  "win32-x64": "win64.exe",
}[`${process.platform}-${process.arch}`];
if (!platform) throw new Error(`no protoc binary for ${process.platform}-${process.arch}`);
const protoc = join(
  protocDir,
  "bin",
  platform.endsWith(".exe") ? `protoc-${platform}` : `protoc-${platform}`,
);
const plugin = join(
  root,
  "node_modules",
  ".bin",
  process.platform === "win32" ? "protoc-gen-ts_proto.cmd" : "protoc-gen-ts_proto",
);
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "strata-proto-")) : join(root, "src", "gen");
mkdirSync(out, { recursive: true });
const options = [
  "outputServices=grpc-js",
  "esModuleInterop=true",
  "env=node",
  "forceLong=bigint",
  "importSuffix=.js",
  "useExactTypes=false",
];
execFileSync(
  protoc,
  [
    `--plugin=protoc-gen-ts_proto=${plugin}`,
    `--ts_proto_out=${out}`,
    `--ts_proto_opt=${options.join(",")}`,
    `-I`,
    root,
    `-I`,
    join(protocDir, "include"),
    join(root, "coordinator.proto"),
  ],
  { stdio: "inherit" },
);
if (check) {
  const committed = join(root, "src", "gen", "coordinator.ts");
  const fresh = readFileSync(join(out, "coordinator.ts"), "utf8");
  const same = existsSync(committed) && readFileSync(committed, "utf8") === fresh;
  rmSync(out, { recursive: true, force: true });
  if (!same) {
    console.error(
      "proto/src/gen/coordinator.ts is stale: run `pnpm generate` and commit the result.",
    );
    process.exit(1);
  }
  console.log("generated code is current");
} else {
  console.log(`generated ${join(out, "coordinator.ts")}`);
}
