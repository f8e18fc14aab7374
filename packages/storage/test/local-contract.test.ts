import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalStorage } from "../src/index.js";
import { describeStorageContract } from "./contract.js";

let parent: string;
let count = 0;
beforeAll(async () => {
  parent = await mkdtemp(path.join(tmpdir(), "strata-local-contract-"));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

describeStorageContract("local", {
  create: async () => createLocalStorage({ root: path.join(parent, `root-${count++}`) }),
});
