import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { CoordinatorService, HeartbeatRequest, HeartbeatResponse } from "@strata/proto";
import { Code, RuntimeError } from "@strata/runtime-core";
import { createCoordinatorClient } from "./create-coordinator-client.js";

// A real grpc-js server on port 0 that answers Heartbeat and reports the authorization header.
async function startServer(): Promise<{ server: Server; target: string; seen: string[] }> {
  const seen: string[] = [];
  const server = new Server();
  const unimplemented = (_call: unknown, callback: sendUnaryData<unknown>) =>
    callback({ code: status.UNIMPLEMENTED });
  const impl: UntypedServiceImplementation = {};
  for (const name of Object.keys(CoordinatorService)) impl[name] = unimplemented;
  impl.heartbeat = (
    call: ServerUnaryCall<HeartbeatRequest, HeartbeatResponse>,
    callback: sendUnaryData<HeartbeatResponse>,
  ) => {
    seen.push(String(call.metadata.get("authorization")[0] ?? ""));
    callback(
      null,
      HeartbeatResponse.fromPartial({
        acknowledged: true,
        serverTimestampMs: 7n,
        pendingCommands: [call.request.workerId],
      }),
    );
  };
  server.addService(CoordinatorService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return { server, target: `127.0.0.1:${port}`, seen };
}

function heartbeat(
  client: ReturnType<typeof createCoordinatorClient>,
  workerId: string,
): Promise<HeartbeatResponse> {
  return new Promise((resolve, reject) =>
    client.heartbeat(
      HeartbeatRequest.fromPartial({ workerId, timestampMs: 1n }),
      (error, response) => (error ? reject(error) : resolve(response)),
    ),
  );
}

describe("createCoordinatorClient", () => {
  let fixture: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    fixture = await startServer();
  });
  afterAll(() => fixture.server.forceShutdown());

  test("sends the bearer token on every call over plaintext", async () => {
    const client = createCoordinatorClient({ target: fixture.target, authToken: "s3cret" });
    try {
      const response = await heartbeat(client, "w-1");
      expect(response.acknowledged).toBe(true);
      expect(response.pendingCommands).toEqual(["w-1"]);
      await heartbeat(client, "w-2");
      expect(fixture.seen.slice(-2)).toEqual(["Bearer s3cret", "Bearer s3cret"]);
    } finally {
      client.close();
    }
  });

  test("sends no authorization header without a token", async () => {
    const client = createCoordinatorClient({ target: fixture.target });
    try {
      await heartbeat(client, "w-3");
      expect(fixture.seen.at(-1)).toBe("");
    } finally {
      client.close();
    }
  });

  test("rejects a malformed target or token with InvalidArgument", () => {
    expect(() => createCoordinatorClient({ target: "http://x" })).toThrow(RuntimeError);
    try {
      createCoordinatorClient({ target: "localhost:50051", authToken: "has space" });
    } catch (error) {
      expect((error as RuntimeError).code).toBe(Code.InvalidArgument);
      return;
    }
    throw new Error("expected an error");
  });
});
