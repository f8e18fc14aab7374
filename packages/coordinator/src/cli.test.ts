import { loadCoordinatorConfig } from "./cli.js";

const TOKEN = "a-token-of-sixteen-chars";

describe("loadCoordinatorConfig", () => {
  test("defaults: gRPC on every interface, HTTP on loopback", () => {
    const { config } = loadCoordinatorConfig({}, {});
    expect(config).toMatchObject({
      grpcAddr: "0.0.0.0:50051",
      httpAddr: "127.0.0.1:3000",
      dataDir: "./.strata",
      heartbeatTimeoutMs: 15_000,
      logLevel: "info",
    });
    expect(config.authToken).toBeUndefined();
  });

  test("with a token and no HTTP address, HTTP listens on every interface", () => {
    const { config } = loadCoordinatorConfig({}, { STRATA_AUTH_TOKEN: TOKEN });
    expect(config.httpAddr).toBe("0.0.0.0:3000");
  });

  test("an explicit HTTP address always wins", () => {
    expect(
      loadCoordinatorConfig({ httpAddr: "127.0.0.1:4000" }, { STRATA_AUTH_TOKEN: TOKEN }).config
        .httpAddr,
    ).toBe("127.0.0.1:4000");
    expect(loadCoordinatorConfig({}, { STRATA_HTTP_ADDR: "10.0.0.1:3000" }).config.httpAddr).toBe(
      "10.0.0.1:3000",
    );
  });

  test("flags beat the environment; numbers are parsed", () => {
    const { config, sources } = loadCoordinatorConfig(
      { heartbeatTimeoutMs: "500" },
      { STRATA_HEARTBEAT_TIMEOUT_MS: "900", STRATA_DATA_DIR: "/d" },
    );
    expect(config.heartbeatTimeoutMs).toBe(500);
    expect(config.dataDir).toBe("/d");
    expect(sources).toMatchObject({
      heartbeatTimeoutMs: "flag",
      dataDir: "env",
      grpcAddr: "default",
    });
  });
});
