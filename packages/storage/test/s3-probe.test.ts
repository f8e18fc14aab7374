import { createServer, type Server, type Socket } from "node:net";
import type { S3Client } from "@aws-sdk/client-s3";
import { Code } from "@strata/runtime-core";
import { createS3Storage } from "../src/s3/index.js";
import { expectCode } from "./contract.js";

const body = Buffer.from("manifest");

/** A TCP server that accepts connections and never answers a byte (a hung S3 endpoint). */
async function silentEndpoint(): Promise<{
  endpoint: string;
  connections: () => number;
  close: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Settles-within check: the elapsed ms of a promise that must reject. */
async function rejectsAfter(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
  throw new Error("expected a rejection");
}

describe("the conditional-write probe against an endpoint that never answers", () => {
  let silent: Awaited<ReturnType<typeof silentEndpoint>>;
  beforeEach(async () => {
    silent = await silentEndpoint();
  });
  afterEach(async () => {
    await silent.close();
  });

  const storageFor = () =>
    createS3Storage({
      bucket: "bkt",
      endpoint: silent.endpoint,
      credentials: { accessKeyId: "k", secretAccessKey: "s" },
      maxAttempts: 1,
      // Bounds the background DELETE of the probe object, which close() waits for.
      abortTimeoutMs: 200,
    });

  it("a create-only put ends at its own timeout, not at a clean-up's", async () => {
    const storage = storageFor();
    try {
      const { error, ms } = await rejectsAfter(
        storage.put("m", body, { createOnly: true, timeoutMs: 1000 }),
      );
      expect(error).toMatchObject({ code: Code.DeadlineExceeded });
      expect((error as Error).message).toContain("put m");
      expect(ms).toBeGreaterThanOrEqual(900);
      // Before the fix this took 11 s: the probe waited for its clean-up DELETE (10 s bound).
      expect(ms).toBeLessThan(5000);
      expect(silent.connections()).toBeGreaterThanOrEqual(1); // the probe did reach the endpoint
    } finally {
      await storage.close();
    }
  });

  it("each caller waiting on the one probe keeps its own deadline and signal, and its own error", async () => {
    const storage = storageFor();
    try {
      const start = performance.now();
      let bSettled = false;
      const a = rejectsAfter(storage.put("a", body, { createOnly: true, timeoutMs: 300 }));
      const bPromise = storage.put("b", body, { createOnly: true, timeoutMs: 1500 });
      bPromise.catch(() => {
        bSettled = true;
      });
      const controller = new AbortController();
      const c = rejectsAfter(
        storage.put("c", body, { createOnly: true, signal: controller.signal }),
      );

      const aResult = await a;
      expect(aResult.error).toMatchObject({ code: Code.DeadlineExceeded });
      expect((aResult.error as Error).message).toContain("put a");
      expect(bSettled).toBe(false); // A's timeout did not end B

      controller.abort();
      const cResult = await c;
      expect(cResult.error).toMatchObject({ code: Code.Canceled });
      expect(bSettled).toBe(false); // nor did C's cancellation

      const bResult = await rejectsAfter(bPromise);
      expect(bResult.error).toMatchObject({ code: Code.DeadlineExceeded });
      expect((bResult.error as Error).message).toContain("put b");
      expect(performance.now() - start).toBeGreaterThanOrEqual(1400);
    } finally {
      await storage.close();
    }
  });

  it("close() stops the probe: a caller without a deadline gets an error instead of hanging", async () => {
    const storage = storageFor();
    const waiting = rejectsAfter(storage.put("d", body, { createOnly: true }));
    await new Promise<void>((resolve) => {
      const poll = () => (silent.connections() > 0 ? resolve() : setTimeout(poll, 10));
      poll();
    });
    await storage.close();
    const { error } = await waiting;
    expect(error).toMatchObject({ code: Code.Canceled });
  });
});

/** A fake client whose probe PutObjects wait for a gate; records every command. */
function gatedClient(answerProbe: (conditional: boolean) => unknown) {
  const calls: Array<{ name: string; input: Record<string, unknown> }> = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const client = {
    async send(
      command: { constructor: { name: string }; input: Record<string, unknown> },
      options: { abortSignal?: AbortSignal } = {},
    ) {
      const name = command.constructor.name.replace(/Command$/, "");
      calls.push({ name, input: command.input });
      const isProbe = String(command.input.Key).includes(".strata-tmp-probe-");
      if (name === "PutObject" && isProbe) {
        await new Promise<void>((resolve, reject) => {
          options.abortSignal?.addEventListener("abort", () => reject(options.abortSignal?.reason));
          gate.then(resolve);
        });
        const result = answerProbe(command.input.IfNoneMatch === "*");
        if (result instanceof Error) throw result;
        return result;
      }
      return { ETag: '"e"' };
    },
    destroy() {},
  };
  return { client: client as unknown as S3Client, calls, open };
}

const preconditionFailed = () =>
  Object.assign(new Error("At least one of the pre-conditions you specified did not hold"), {
    name: "PreconditionFailed",
    $metadata: { httpStatusCode: 412 },
  });

describe("the conditional-write probe, shared by concurrent callers", () => {
  it("runs once; a caller that gives up neither stops it nor passes its error to the others", async () => {
    const { client, calls, open } = gatedClient((conditional) =>
      conditional ? preconditionFailed() : { ETag: '"p"' },
    );
    const storage = createS3Storage({ bucket: "bkt", client });
    const controller = new AbortController();
    const first = storage.put("x", body, { createOnly: true, signal: controller.signal });
    const second = storage.put("y", body, { createOnly: true, timeoutMs: 10_000 });
    controller.abort();
    await expectCode(first, Code.Canceled);
    open();
    await second;
    expect(await storage.resolveConditionalWrites()).toBe("native");
    const probePuts = calls.filter(
      (c) => c.name === "PutObject" && String(c.input.Key).includes("probe"),
    );
    expect(probePuts).toHaveLength(2); // one probe: the plain put and the conditional one
    expect(calls.find((c) => c.input.Key === "y")?.input.IfNoneMatch).toBe("*");
    await storage.close();
    // The scratch object was deleted, in the background.
    expect(
      calls.some((c) => c.name === "DeleteObject" && String(c.input.Key).includes("probe")),
    ).toBe(true);
  });

  it("forgets a failed probe, gives its waiters the probe's own error, and probes again next time", async () => {
    let failing = true;
    const { client, open } = gatedClient((conditional) => {
      if (failing) {
        return Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      }
      return conditional ? preconditionFailed() : { ETag: '"p"' };
    });
    const storage = createS3Storage({ bucket: "bkt", client, maxAttempts: 1 });
    const a = storage.put("a", body, { createOnly: true });
    const b = storage.put("b", body, { createOnly: true });
    open();
    await expectCode(a, Code.Unavailable);
    await expect(b).rejects.toMatchObject({
      code: Code.Unavailable,
      message: expect.stringContaining("conditional-write probe"),
    });
    failing = false;
    await storage.put("c", body, { createOnly: true });
    expect(await storage.resolveConditionalWrites()).toBe("native");
    await storage.close();
  });
});
