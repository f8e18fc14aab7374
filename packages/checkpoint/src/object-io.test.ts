import { Code } from "@strata/runtime-core";
import { createMemoryStorage } from "@strata/storage";
import { createHasher } from "./checksum.js";
import type { ManifestObject } from "./manifest.js";
import { readObject, writeObject } from "./object-io.js";

const bytes = Buffer.from("a checkpoint object".repeat(1000));

test("writeObject streams in chunks and records size and XXH3-64", async () => {
  const storage = createMemoryStorage();
  const written = await writeObject(storage, "k", bytes, { compression: "none", chunkBytes: 4096 });
  expect(written).toEqual({
    sizeBytes: bytes.length,
    rawSizeBytes: bytes.length,
    checksum: createHasher("xxh3-64").update(bytes).digest(),
  });
  expect(written.checksum).toMatch(/^[0-9a-f]{16}$/);
  expect(Buffer.from(await storage.get("k"))).toEqual(bytes);
});

test("readObject verifies objects recorded with CRC32C too", async () => {
  const storage = createMemoryStorage();
  await storage.put("k", bytes);
  const entry: ManifestObject = {
    name: "x",
    key: "k",
    sizeBytes: bytes.length,
    rawSizeBytes: bytes.length,
    checksum: createHasher("crc32c").update(bytes).digest(),
    algorithm: "crc32c",
    compression: "none",
    dtype: "bytes",
  };
  expect(
    Buffer.from((await readObject(storage, "k", entry, { collect: true })) as Uint8Array),
  ).toEqual(bytes);
  await expect(
    readObject(storage, "k", { ...entry, checksum: "00000000" }, { collect: false }),
  ).rejects.toMatchObject({
    code: Code.DataLoss,
  });
});
