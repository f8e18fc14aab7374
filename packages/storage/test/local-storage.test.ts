import { spawn } from "node:child_process";
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Code } from "@strata/runtime-core";
import { errorFromFs } from "../src/fs-error.js";
import { createLocalStorage, LocalStorage } from "../src/index.js";
import { expectCode, listKeys } from "./contract.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "strata-local-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = (value: string) => Buffer.from(value, "utf8");

async function* stalled(): AsyncGenerator<Uint8Array> {
  yield text("partial bytes");
  await new Promise<never>(() => undefined);
}

describe("LocalStorage", () => {
  it("names itself with a file URI and writes under the root", async () => {
    const storage = createLocalStorage({ root: path.join(dir, "root") });
    expect(storage.uri).toBe(`file://${path.join(dir, "root")}`);
    await storage.put("a/b.bin", text("x"));
    expect((await stat(path.join(dir, "root", "a", "b.bin"))).size).toBe(1);
  });

  it("reads nothing from a root that does not exist yet", async () => {
    const storage = createLocalStorage({ root: path.join(dir, "absent") });
    expect(await listKeys(storage, "")).toEqual([]);
    expect(await storage.stat("k")).toBeUndefined();
    await expectCode(storage.get("k"), Code.NotFound);
    await storage.delete("k");
  });

  it("uses 0o644/0o755 by default and private modes on request", async () => {
    const open = createLocalStorage({ root: path.join(dir, "open") });
    await open.put("d/f", text("x"));
    expect((await stat(path.join(dir, "open", "d", "f"))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(dir, "open", "d"))).mode & 0o777).toBe(0o755 & ~process.umask());

    const secret = createLocalStorage({
      root: path.join(dir, "secret"),
      fileMode: 0o600,
      dirMode: 0o700,
    });
    await secret.put("d/f", text("x"));
    expect((await stat(path.join(dir, "secret", "d", "f"))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, "secret", "d"))).mode & 0o777).toBe(0o700);
  });

  it("rejects bad options", () => {
    expect(() => new LocalStorage({ root: "" })).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument }),
    );
    expect(() => createLocalStorage({ root: dir, fileMode: 0o10000 })).toThrow(/fileMode/);
  });

  it("removes the temporary file when a put fails or is aborted", async () => {
    const storage = createLocalStorage({ root: dir });
    await expectCode(storage.put("t/x", stalled(), { timeoutMs: 50 }), Code.DeadlineExceeded);
    await storage.put("t/keep", text("k"));
    const controller = new AbortController();
    const put = storage.put("t/y", stalled(), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expectCode(put, Code.Canceled);
    expect(await readdir(path.join(dir, "t"))).toEqual(["keep"]);
  });

  it("skips temporary files and names no key could have when listing", async () => {
    const storage = createLocalStorage({ root: dir });
    await storage.put("a/ok", text("1"));
    await writeFile(path.join(dir, "a", ".strata-tmp-123-abc"), "in flight");
    await writeFile(path.join(dir, "a", "back\\slash"), "odd");
    expect(await listKeys(storage, "")).toEqual(["a/ok"]);
  });

  it("prunes folders that a delete leaves empty, but not the root", async () => {
    const storage = createLocalStorage({ root: dir });
    await storage.put("x/y/z/file", text("1"));
    await storage.put("x/other", text("2"));
    await storage.delete("x/y/z/file");
    expect(await readdir(path.join(dir, "x"))).toEqual(["other"]);
    await storage.delete("x/other");
    expect(await readdir(dir)).toEqual([]);
  });

  it("list removes empty folders (what a process killed mid-delete leaves), never the root", async () => {
    const storage = createLocalStorage({ root: dir });
    await storage.put("keep/a", text("1"));
    await mkdir(path.join(dir, "keep", "empty", "deeper"), { recursive: true });
    await mkdir(path.join(dir, "gone", "x"), { recursive: true });
    expect(await listKeys(storage, "")).toEqual(["keep/a"]);
    expect(await listKeys(storage, "")).toEqual(["keep/a"]); // the parents emptied by the first pass
    expect((await readdir(dir)).sort()).toEqual(["keep"]);
    expect(await readdir(path.join(dir, "keep"))).toEqual(["a"]);
    await storage.delete("keep/a");
    expect(await listKeys(storage, "")).toEqual([]);
    expect(await readdir(dir)).toEqual([]); // the root stays
  });

  it("makes the root again when it was removed after first use", async () => {
    const root = path.join(dir, "root");
    const storage = createLocalStorage({ root });
    await storage.put("a/b", text("1"));
    await rm(root, { recursive: true, force: true });
    expect(await listKeys(storage, "")).toEqual([]);
    await storage.put("a/b", text("2"));
    expect(Buffer.from(await storage.get("a/b")).toString()).toBe("2");
  });

  it("a put whose new folder is removed by a concurrent listing makes it again", async () => {
    const storage = createLocalStorage({ root: dir });
    const puts = Array.from({ length: 40 }, (_, i) =>
      storage.put(`race/${i}/deep/obj`, text(`${i}`)),
    );
    const lists = Array.from({ length: 40 }, () => listKeys(storage, ""));
    await Promise.all([...puts, ...lists]);
    expect((await listKeys(storage, "race/")).length).toBe(40);
  });

  it("says clearly when a key clashes with a folder or a file", async () => {
    const storage = createLocalStorage({ root: dir });
    await storage.put("a/b", text("1"));
    await expectCode(storage.put("a", text("2")), Code.FailedPrecondition);
    await expectCode(storage.put("a/b/c", text("3")), Code.FailedPrecondition);
    await expectCode(storage.put("a", text("4"), { createOnly: true }), Code.AlreadyExists);
    expect(await listKeys(storage, "")).toEqual(["a/b"]);
    expect(await readdir(path.join(dir, "a"))).toEqual(["b"]);
  });

  it("refuses to follow a symbolic link out of the root", async () => {
    const outside = path.join(dir, "outside");
    const root = path.join(dir, "root");
    await mkdir(outside);
    await mkdir(root);
    await writeFile(path.join(outside, "secret"), "do not read");
    await symlink(outside, path.join(root, "escape"));
    await symlink(path.join(outside, "secret"), path.join(root, "link-to-secret"));
    const storage = createLocalStorage({ root });
    await expectCode(storage.get("escape/secret"), Code.PermissionDenied);
    await expectCode(storage.put("escape/new", text("x")), Code.PermissionDenied);
    await expectCode(storage.get("link-to-secret"), Code.PermissionDenied);
    expect(await storage.stat("link-to-secret")).toBeUndefined();
    expect(await listKeys(storage, "")).toEqual([]);
    await expect(lstat(path.join(outside, "new"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  describe("a planted folder symlink (root/evil -> outside)", () => {
    let root: string;
    let outside: string;
    let storage: LocalStorage;
    beforeEach(async () => {
      root = path.join(dir, "root");
      outside = path.join(dir, "outside");
      await mkdir(path.join(outside, "sub"), { recursive: true });
      await mkdir(path.join(root, "real"), { recursive: true });
      await writeFile(path.join(outside, "secret"), "do not read");
      await writeFile(path.join(outside, "sub", "deeper"), "nor this");
      await writeFile(path.join(root, "real", "mine"), "ok");
      await symlink(outside, path.join(root, "evil"));
      await symlink(outside, path.join(root, "real", "nested-evil"));
      await symlink(path.join(root, "real"), path.join(root, "alias")); // points inside the root
      storage = createLocalStorage({ root });
    });
    const outsideTree = async () => [
      ...(await readdir(outside)),
      ...(await readdir(path.join(outside, "sub"))),
    ];

    it("list refuses a prefix that leads through it, and never shows what is outside", async () => {
      for (const prefix of ["evil/", "evil/s", "evil/sub/", "real/nested-evil/", "alias/"]) {
        await expectCode(listKeys(storage, prefix), Code.PermissionDenied);
      }
      expect(await listKeys(storage, "")).toEqual(["real/mine"]);
      expect(await listKeys(storage, "ev")).toEqual([]);
      expect(await listKeys(storage, "real/")).toEqual(["real/mine"]);
    });

    it("get, getStream and stat refuse keys that lead through it", async () => {
      for (const key of [
        "evil/secret",
        "evil/sub/deeper",
        "real/nested-evil/secret",
        "alias/mine",
      ]) {
        await expectCode(storage.get(key), Code.PermissionDenied);
        await expectCode(storage.getStream(key), Code.PermissionDenied);
        await expectCode(storage.stat(key), Code.PermissionDenied);
      }
    });

    it("put refuses it and creates nothing outside the root, not even a folder", async () => {
      const before = await outsideTree();
      for (const key of [
        "evil/new",
        "evil/new/deep/er/x",
        "evil/sub/new",
        "real/nested-evil/x/y",
      ]) {
        await expectCode(storage.put(key, text("x")), Code.PermissionDenied);
        await expectCode(storage.put(key, text("x"), { createOnly: true }), Code.PermissionDenied);
      }
      await expectCode(
        storage.putMany([{ key: "evil/many/x", body: text("x") }]),
        Code.PermissionDenied,
      );
      expect(await outsideTree()).toEqual(before);
      await expect(lstat(path.join(outside, "new"))).rejects.toMatchObject({ code: "ENOENT" });
    });

    it("delete and deleteMany refuse it and leave the outside files alone", async () => {
      await expectCode(storage.delete("evil/secret"), Code.PermissionDenied);
      await expectCode(storage.deleteMany(["real/mine", "evil/sub/deeper"]), Code.PermissionDenied);
      expect(await readFile(path.join(outside, "secret"), "utf8")).toBe("do not read");
      expect(await readFile(path.join(outside, "sub", "deeper"), "utf8")).toBe("nor this");
    });
  });

  it("putMany writes every object durably and syncs each folder once", async () => {
    const storage = createLocalStorage({ root: dir });
    const entries = Array.from({ length: 10 }, (_, i) => ({
      key: `batch/${i % 3}/obj-${i}`,
      body: text(`body ${i}`),
    }));
    const infos = await storage.putMany(entries, { concurrency: 3 });
    expect(infos.map((i) => i.key)).toEqual(entries.map((e) => e.key));
    for (const entry of entries) {
      expect(Buffer.from(await storage.get(entry.key)).toString()).toBe(
        Buffer.from(entry.body).toString(),
      );
    }
    await expectCode(
      storage.putMany([{ key: "batch/0/obj-0", body: text("again"), createOnly: true }]),
      Code.AlreadyExists,
    );
    await expectCode(storage.putMany([{ key: "../x", body: text("x") }]), Code.InvalidArgument);
  });

  it("works when the root itself is reached through a symbolic link", async () => {
    await mkdir(path.join(dir, "real"));
    await symlink(path.join(dir, "real"), path.join(dir, "alias"));
    const storage = createLocalStorage({ root: path.join(dir, "alias") });
    await storage.put("k/v", text("ok"));
    expect(Buffer.from(await storage.get("k/v")).toString()).toBe("ok");
    expect(await listKeys(storage, "")).toEqual(["k/v"]);
  });

  it("never leaves a partial file under the key when the writer is killed mid-write", async () => {
    const storage = createLocalStorage({ root: dir });
    await storage.put("ckpt/shard-0", text("previous complete version"));
    const child = spawn(
      process.execPath,
      [
        "--conditions=@strata/source",
        "--import",
        "tsx",
        path.join(__dirname, "fixtures", "local-writer-child.ts"),
        dir,
        "ckpt/shard-0",
      ],
      { cwd: path.join(__dirname, ".."), stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on("exit", (code, signal) => resolve(signal ?? code)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("writing")) resolve();
      });
      child.on("exit", () => reject(new Error(`the writer exited before writing: ${stderr}`)));
    });
    // The body is mid-flight: its temporary file is growing next to the key.
    const temps = (await readdir(path.join(dir, "ckpt"))).filter((n) =>
      n.startsWith(".strata-tmp-"),
    );
    expect(temps).toHaveLength(1);
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");

    expect(Buffer.from(await storage.get("ckpt/shard-0")).toString()).toBe(
      "previous complete version",
    );
    expect(await listKeys(storage, "")).toEqual(["ckpt/shard-0"]);
  }, 60_000);
});

describe("errorFromFs", () => {
  const cases: Array<[string, Code]> = [
    ["ENOENT", Code.NotFound],
    ["ENOTDIR", Code.NotFound],
    ["EISDIR", Code.NotFound],
    ["EEXIST", Code.AlreadyExists],
    ["EACCES", Code.PermissionDenied],
    ["EPERM", Code.PermissionDenied],
    ["EROFS", Code.PermissionDenied],
    ["ELOOP", Code.PermissionDenied],
    ["ENOSPC", Code.ResourceExhausted],
    ["EDQUOT", Code.ResourceExhausted],
    ["EMFILE", Code.ResourceExhausted],
    ["ENAMETOOLONG", Code.InvalidArgument],
    ["EIO", Code.DataLoss],
    ["EAGAIN", Code.Unavailable],
    ["EBUSY", Code.Unavailable],
    ["EXDEV", Code.Internal],
    ["EWHATEVER", Code.Unknown],
  ];
  it.each(cases)("maps %s to code %d and keeps the key and cause", (errno, code) => {
    const cause = Object.assign(new Error(`${errno}: boom`), { code: errno });
    const error = errorFromFs(cause, "put", "a/b");
    expect(error).toMatchObject({ code, details: { key: "a/b", errno } });
    expect(error.cause).toBe(cause);
    expect(error.message).toContain("a/b");
  });
});
