import { Code } from "@strata/runtime-core";
import { createMemoryStorage } from "@strata/storage";
import { createHasher } from "./checksum.js";
import type { ManifestObject } from "./manifest.js";
import { readObject, writePack } from "./object-io.js";

const a = Buffer.from("a checkpoint object".repeat(1000));
const b = Buffer.from("another one".repeat(777));

test("writePack streams buffers back to back and records offsets, sizes and XXH3-64", async () => {
  const storage = createMemoryStorage();
  const placed = await writePack(storage, "k", [a, new Uint8Array(0), b], {
    compression: "none",
    chunkBytes: 4096,
  });
  const hash = (x: Uint8Array) => createHasher("xxh3-64").update(x).digest();
  expect(placed).toEqual([
    { offset: 0, sizeBytes: a.length, rawSizeBytes: a.length, checksum: hash(a) },
    { offset: a.length, sizeBytes: 0, rawSizeBytes: 0, checksum: hash(new Uint8Array(0)) },
    { offset: a.length, sizeBytes: b.length, rawSizeBytes: b.length, checksum: hash(b) },
  ]);
  expect(placed[0]?.checksum).toMatch(/^[0-9a-f]{16}$/);
  expect(Buffer.from(await storage.get("k"))).toEqual(Buffer.concat([a, b]));
});

test("lz4 packs round-trip through ranged reads", async () => {
  const storage = createMemoryStorage();
  const placed = await writePack(storage, "k", [a, b], { compression: "lz4", chunkBytes: 5000 });
  for (const [i, raw] of [a, b].entries()) {
    const p = placed[i] as (typeof placed)[number];
    const entry: ManifestObject = {
      name: `e${i}`,
      key: "k",
      ...p,
      algorithm: "xxh3-64",
      compression: "lz4",
      dtype: "bytes",
    };
    expect(
      Buffer.from((await readObject(storage, "k", entry, { collect: true })) as Uint8Array),
    ).toEqual(raw);
  }
});

test("readObject verifies objects recorded with CRC32C too", async () => {
  const storage = createMemoryStorage();
  await storage.put("k", Buffer.concat([b, a]));
  const entry: ManifestObject = {
    name: "x",
    key: "k",
    offset: b.length,
    sizeBytes: a.length,
    rawSizeBytes: a.length,
    checksum: createHasher("crc32c").update(a).digest(),
    algorithm: "crc32c",
    compression: "none",
    dtype: "bytes",
  };
  expect(
    Buffer.from((await readObject(storage, "k", entry, { collect: true })) as Uint8Array),
  ).toEqual(a);
  await expect(
    readObject(storage, "k", { ...entry, checksum: "00000000" }, { collect: false }),
  ).rejects.toMatchObject({
    code: Code.DataLoss,
  });
});
