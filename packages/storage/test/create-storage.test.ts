import { tmpdir } from "node:os";
import path from "node:path";
import { Code } from "@strata/runtime-core";
import { createStorage, LocalStorage, MemoryStorage } from "../src/index.js";
import { S3Storage } from "../src/s3/index.js";

describe("createStorage", () => {
  it("opens memory:// backends, each one new and empty", async () => {
    const a = await createStorage("memory://ckpt");
    const b = await createStorage("memory://ckpt");
    expect(a).toBeInstanceOf(MemoryStorage);
    expect(a.uri).toBe("memory://ckpt");
    await a.put("k", new Uint8Array([1]));
    expect(await b.exists("k")).toBe(false);
    expect((await createStorage("memory:")).uri).toBe("memory://default");
  });

  it("opens file:///abs, file:/abs and relative file: URIs", async () => {
    const abs = path.join(tmpdir(), "strata cs");
    const fromUrl = await createStorage(`file://${encodeURI(abs)}`);
    expect(fromUrl).toBeInstanceOf(LocalStorage);
    expect((fromUrl as LocalStorage).root).toBe(abs);
    expect(((await createStorage(`file:${abs}`)) as LocalStorage).root).toBe(abs);
    const relative = (await createStorage("file:./data/ckpt", { cwd: "/srv/job" })) as LocalStorage;
    expect(relative.root).toBe("/srv/job/data/ckpt");
    const bare = (await createStorage("file:data", { cwd: "/srv/job" })) as LocalStorage;
    expect(bare.root).toBe("/srv/job/data");
  });

  it("passes local options through", async () => {
    const storage = await createStorage("file:///tmp/x", { local: { fileMode: 0o600 } });
    expect(storage).toBeInstanceOf(LocalStorage);
  });

  it("opens s3://bucket/prefix with the endpoint from the query, the options or the environment", async () => {
    const fromQuery = (await createStorage(
      "s3://my-bucket/runs/7?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true",
      { env: {} },
    )) as S3Storage;
    expect(fromQuery).toBeInstanceOf(S3Storage);
    expect(fromQuery.bucket).toBe("my-bucket");
    expect(fromQuery.prefix).toBe("runs/7/");
    expect(fromQuery.uri).toBe("s3://my-bucket/runs/7/");
    expect(await fromQuery.client.config.region()).toBe("eu-west-1");
    const endpoint = await fromQuery.client.config.endpoint?.();
    expect(endpoint?.hostname).toBe("127.0.0.1");
    expect(fromQuery.client.config.forcePathStyle).toBe(true);
    await fromQuery.close();

    const fromEnv = (await createStorage("s3://other-bucket", {
      env: { STRATA_S3_ENDPOINT: "http://minio.local:9000" },
    })) as S3Storage;
    expect(fromEnv.prefix).toBe("");
    expect((await fromEnv.client.config.endpoint?.())?.hostname).toBe("minio.local");
    expect(fromEnv.client.config.forcePathStyle).toBe(true);
    await fromEnv.close();

    const fromOptions = (await createStorage("s3://third-bucket/p/", {
      env: { AWS_ENDPOINT_URL: "http://ignored:1" },
      s3: { endpoint: "http://chosen:2", forcePathStyle: false, region: "us-west-2" },
    })) as S3Storage;
    expect((await fromOptions.client.config.endpoint?.())?.hostname).toBe("chosen");
    expect(fromOptions.client.config.forcePathStyle).toBe(false);
    expect(fromOptions.prefix).toBe("p/");
    await fromOptions.close();
  });

  it.each([
    ["", /empty/],
    ["/just/a/path", /no scheme/],
    ["ftp://host/x", /unknown scheme "ftp:"/],
    ["s3://", /bucket/],
    ["s3://ab/x", /bucket/],
    ["s3://bucket/x?forcePathStyle=maybe", /forcePathStyle/],
    ["file:", /no folder/],
    ["file://remote-host/x", /file/i],
    ["memory://a/b", /memory:\/\/name/],
    ["s3://bucket/a//b", /invalid storage key/],
  ])("rejects %j with InvalidArgument", async (uri, message) => {
    const attempt = createStorage(uri, { env: {} });
    await expect(attempt).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(createStorage(uri, { env: {} })).rejects.toThrow(message);
  });
});
