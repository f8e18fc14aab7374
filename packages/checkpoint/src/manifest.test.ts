import { Code } from "@strata/runtime-core";
import { encodeLz4Frame, Lz4FrameDecoder } from "./compression.js";
import {
  decodeRankManifest,
  decodeStepManifest,
  encodeManifest,
  FORMAT_VERSION,
  type RankManifest,
} from "./manifest.js";

const rank: RankManifest = {
  formatVersion: 1,
  kind: "rank",
  jobId: "j",
  step: 3,
  epoch: 1,
  rank: 0,
  worldSize: 1,
  attemptId: "abc",
  createdAtMs: 1000,
  objects: [
    {
      name: "w",
      key: "abc/pack-00000.bin",
      offset: 0,
      sizeBytes: 4,
      checksum: "0000abcd",
      algorithm: "crc32c",
      compression: "none",
      rawSizeBytes: 4,
      dtype: "float32",
    },
  ],
  totalSizeBytes: 4,
  dataPosition: { shard: 1.5 },
  metadata: { lr: 0.1, nested: { a: [1, 2] } },
};

describe("manifests", () => {
  test("round-trip with a self-checksum", () => {
    expect(decodeRankManifest(encodeManifest(rank), "k")).toEqual(rank);
  });

  test("any edit, even one that keeps valid JSON, is DataLoss", () => {
    const text = Buffer.from(encodeManifest(rank)).toString();
    for (const edited of [
      text.replace('"epoch": 1', '"epoch": 2'),
      text.slice(0, 40),
      text.replace(/"manifestChecksum": "[0-9a-f]+"/, '"manifestChecksum": "00000000"'),
      "[]",
      "",
    ]) {
      expect(() => decodeRankManifest(Buffer.from(edited), "k")).toThrow(
        expect.objectContaining({ code: Code.DataLoss }),
      );
    }
  });

  test("a newer format is FailedPrecondition; a wrong kind is DataLoss", () => {
    expect(() =>
      decodeRankManifest(encodeManifest({ ...rank, formatVersion: FORMAT_VERSION + 1 }), "k"),
    ).toThrow(expect.objectContaining({ code: Code.FailedPrecondition }));
    expect(() => decodeStepManifest(encodeManifest(rank), "k")).toThrow(
      expect.objectContaining({ code: Code.DataLoss }),
    );
    const badObject = {
      ...rank,
      objects: [{ ...rank.objects[0], compression: "zip" }],
    } as unknown as RankManifest;
    expect(() => decodeRankManifest(encodeManifest(badObject), "k")).toThrow(/compression/);
  });
});

describe("lz4 frames", () => {
  test("decode across arbitrary chunk boundaries", () => {
    const raw = [Buffer.alloc(10_000, 1), Buffer.from("hello world".repeat(50)), Buffer.alloc(0)];
    const stored = Buffer.concat(raw.map((r) => encodeLz4Frame(r)));
    const decoder = new Lz4FrameDecoder("x");
    const out: Uint8Array[] = [];
    for (let i = 0; i < stored.length; i += 7) out.push(...decoder.push(stored.subarray(i, i + 7)));
    decoder.end();
    expect(Buffer.concat(out)).toEqual(Buffer.concat(raw));
  });

  test("garbage and truncation are DataLoss", () => {
    const frame = Buffer.from(encodeLz4Frame(Buffer.alloc(1000, 3)));
    const truncated = new Lz4FrameDecoder("x");
    truncated.push(frame.subarray(0, frame.length - 1));
    expect(() => truncated.end()).toThrow(expect.objectContaining({ code: Code.DataLoss }));
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(0xffffffff, 0);
    expect(() => new Lz4FrameDecoder("x").push(huge)).toThrow(
      expect.objectContaining({ code: Code.DataLoss }),
    );
    const damaged = Buffer.from(frame);
    damaged.writeUInt32LE(5000, 4); // the raw length the block claims
    expect(() => new Lz4FrameDecoder("x").push(damaged)).toThrow(
      expect.objectContaining({ code: Code.DataLoss }),
    );
  });
});
