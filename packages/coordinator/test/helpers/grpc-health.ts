import { type Client, credentials, loadPackageDefinition, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const definition = loadPackageDefinition(
  loadSync(require.resolve("grpc-health-check/proto/health/v1/health.proto"), {
    keepCase: true,
    enums: String,
  }),
) as unknown as {
  grpc: {
    health: {
      v1: {
        Health: new (
          address: string,
          creds: ReturnType<typeof credentials.createInsecure>,
        ) => Client & {
          Check(
            request: { service: string },
            callback: (error: ServiceError | null, response?: { status: string }) => void,
          ): void;
        };
      };
    };
  };
};

/**
 * Asks the standard `grpc.health.v1.Health/Check` of `address` about `service` ("" = the whole
 * server); resolves with the status name (`SERVING`, `NOT_SERVING`, …) or the gRPC error's code
 * name when the call fails (`UNIMPLEMENTED` when the server has no health service).
 */
export async function grpcHealth(address: string, service = ""): Promise<string> {
  const client = new definition.grpc.health.v1.Health(address, credentials.createInsecure());
  try {
    return await new Promise<string>((resolve) =>
      client.Check({ service }, (error, response) =>
        resolve(error ? `error ${error.code}` : String(response?.status)),
      ),
    );
  } finally {
    client.close();
  }
}
