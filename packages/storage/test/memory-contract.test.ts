import { createMemoryStorage } from "../src/index.js";
import { describeStorageContract } from "./contract.js";

describeStorageContract("memory", {
  create: async () => createMemoryStorage({ name: "contract" }),
});
