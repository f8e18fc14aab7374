import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { CoordinatorService, type HeartbeatRequest, type HeartbeatResponse } from "@strata/proto";

/** An error a fake handler answers with. */
export interface FakeError {
  code: number;
  details: string;
  metadata?: Record<string, string>;
}

/** A unary handler: returns the response, or a {@link FakeError}. */
export type FakeHandler<Req = unknown> = (
  request: Req,
  call: ServerUnaryCall<unknown, unknown>,
) => unknown | FakeError;

/** A small grpc-js server on port 0 with the coordinator's service; unset methods are UNIMPLEMENTED. */
export interface FakeCoordinator {
  readonly address: string;
  /** Requests received, by method name. */
  readonly calls: Record<string, unknown[]>;
  /** Replaces a unary method's handler. */
  handle<Req = unknown>(method: string, handler: FakeHandler<Req>): void;
  /** Answers streamed heartbeats with this function (undefined: UNIMPLEMENTED). */
  streamHeartbeats: ((request: HeartbeatRequest) => HeartbeatResponse) | undefined;
  close(): void;
}

export function isFakeError(value: unknown): value is FakeError {
  return typeof value === "object" && value !== null && "code" in value && "details" in value;
}

/** Starts a fake coordinator. */
export async function startFakeCoordinator(): Promise<FakeCoordinator> {
  const server = new Server();
  const handlers = new Map<string, FakeHandler>();
  const calls: Record<string, unknown[]> = {};
  const impl: UntypedServiceImplementation = {};
  const fake: FakeCoordinator = {
    address: "",
    calls,
    handle: (method, handler) => void handlers.set(method, handler as FakeHandler),
    streamHeartbeats: undefined,
    close: () => server.forceShutdown(),
  };
  for (const name of Object.keys(CoordinatorService)) {
    if (name === "streamHeartbeats") continue;
    impl[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      calls[name] ??= [];
      calls[name].push(call.request);
      const handler = handlers.get(name);
      if (handler === undefined) {
        callback({ code: status.UNIMPLEMENTED, details: `${name} is not implemented here` });
        return;
      }
      const answer = handler(call.request, call);
      if (isFakeError(answer)) {
        const metadata = new Metadata();
        for (const [k, v] of Object.entries(answer.metadata ?? {})) metadata.set(k, v);
        callback({ code: answer.code, details: answer.details, metadata });
      } else {
        callback(null, answer);
      }
    };
  }
  impl.streamHeartbeats = (call: ServerDuplexStream<HeartbeatRequest, HeartbeatResponse>) => {
    if (fake.streamHeartbeats === undefined) {
      call.emit("error", { code: status.UNIMPLEMENTED, details: "no streams here" });
      return;
    }
    call.on("data", (request: HeartbeatRequest) => {
      calls.streamHeartbeats ??= [];
      calls.streamHeartbeats.push(request);
      call.write((fake.streamHeartbeats as (r: HeartbeatRequest) => HeartbeatResponse)(request));
    });
    call.on("end", () => call.end());
  };
  server.addService(CoordinatorService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return Object.assign(fake, { address: `127.0.0.1:${port}` });
}
