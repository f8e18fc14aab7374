import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  blocksOf,
  DOCS_DIR,
  expectEveryBlockCovered,
  onlyBlock,
  ROOT,
  runBashBlock,
  runTypeScriptBlock,
  startCoordinator,
} from "./helpers.js";

// proto/README.md's examples: the grpc-js client against a coordinator on the address it names,
// and the Python stub generation from the repository root (here a folder with a `proto` link, so
// `gen/` is not left in the checkout).
jest.setTimeout(120_000);

const blocks = blocksOf("proto/README.md");
const GRPC_JS = 'import { credentials } from "@grpc/grpc-js";';
const PROTOC = "mkdir -p gen && protoc";

test("every code block of proto/README.md is covered by a case below", () => {
  expectEveryBlockCovered(blocks, [GRPC_JS, PROTOC]);
});

test("the grpc-js example registers with a coordinator on localhost:50051, twice", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "strata-proto-readme-"));
  const coordinator = await startCoordinator("127.0.0.1:50051", dataDir);
  try {
    for (let run = 0; run < 2; run++) {
      const result = await runTypeScriptBlock(onlyBlock(blocks, GRPC_JS).code, {
        cwd: DOCS_DIR,
        timeoutMs: 60_000,
      });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
      // w-0 registers once: the second run is the same worker again (rank 0, world size 1).
      expect(result.stdout).toBe("0 1\n");
    }
  } finally {
    expect(await coordinator.stop()).toBe(0);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("the Python stub generation runs from the repository root, twice", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "strata-proto-python-"));
  symlinkSync(join(ROOT, "proto"), join(cwd, "proto"));
  try {
    for (let run = 0; run < 2; run++) {
      const result = await runBashBlock(onlyBlock(blocks, PROTOC).code, { cwd, timeoutMs: 60_000 });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
      expect(existsSync(join(cwd, "gen", "coordinator_pb2.py"))).toBe(true);
      expect(existsSync(join(cwd, "gen", "coordinator_pb2_grpc.py"))).toBe(true);
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
