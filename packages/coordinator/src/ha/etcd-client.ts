import { readFileSync } from "node:fs";
import { Etcd3, type IOptions } from "etcd3";
import type { CoordinatorConfig } from "../config.js";
import { splitList } from "../config.js";

/**
 * An etcd client for the configuration's endpoints, with TLS (`etcdCa`, `etcdCert`, `etcdKey`)
 * and password auth (`etcdUsername`, `etcdPassword`) when given. Files were checked at start-up.
 */
export function connectEtcd(config: CoordinatorConfig): Etcd3 {
  const tls = config.etcdCa !== undefined || config.etcdCert !== undefined;
  const hosts = splitList(config.etcdEndpoints).map((endpoint) =>
    /^https?:\/\//.test(endpoint) ? endpoint : `${tls ? "https" : "http"}://${endpoint}`,
  );
  const options: IOptions = { hosts, dialTimeout: 5_000 };
  if (tls) {
    options.credentials = {
      rootCertificate: config.etcdCa === undefined ? Buffer.alloc(0) : readFileSync(config.etcdCa),
      ...(config.etcdCert === undefined ? {} : { certChain: readFileSync(config.etcdCert) }),
      ...(config.etcdKey === undefined ? {} : { privateKey: readFileSync(config.etcdKey) }),
    };
  }
  if (config.etcdUsername !== undefined && config.etcdPassword !== undefined) {
    options.auth = { username: config.etcdUsername, password: config.etcdPassword };
  }
  return new Etcd3(options);
}
