import { createPrivateKey, X509Certificate } from "node:crypto";
import { accessSync, constants, mkdirSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { CoordinatorConfig } from "./config.js";

/** The data directory that keeps state in memory (no files, no lock): for tests and trials. */
export const IN_MEMORY_DATA_DIR = ":memory:";

/** One problem found before start, naming the configuration key. */
export interface StartupProblem {
  key: keyof CoordinatorConfig & string;
  message: string;
}

/** The TLS pair, read and checked. */
export interface TlsFiles {
  certChain: Buffer;
  privateKey: Buffer;
}

/**
 * Checks what configuration validation cannot: the data directory (created with mode 0700 if
 * missing; must be a writable directory) and the TLS pair (both given, readable, PEM, the key
 * matching the certificate). Every problem is collected, so an operator fixes all at once; a
 * message never contains a secret. Returns the TLS files when the pair is good.
 */
export function checkStartup(config: CoordinatorConfig): {
  problems: StartupProblem[];
  tls: TlsFiles | undefined;
} {
  const problems: StartupProblem[] = [];
  if (config.dataDir !== IN_MEMORY_DATA_DIR) {
    const dir = resolve(config.dataDir);
    const stat = statSync(dir, { throwIfNoEntry: false });
    if (stat !== undefined && !stat.isDirectory()) {
      problems.push({ key: "dataDir", message: `${dir} exists and is not a directory` });
    } else {
      try {
        if (stat === undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
        accessSync(dir, constants.W_OK | constants.R_OK);
      } catch (error) {
        problems.push({
          key: "dataDir",
          message: `${dir} cannot be created or written: ${(error as Error).message}`,
        });
      }
    }
  }
  const tls = checkTls(config, problems);
  if (config.state === "etcd") checkEtcd(config, problems);
  return { problems, tls };
}

/** The etcd options that come in pairs, and the files they name. */
function checkEtcd(config: CoordinatorConfig, problems: StartupProblem[]): void {
  if ((config.etcdCert === undefined) !== (config.etcdKey === undefined)) {
    const missing = config.etcdCert === undefined ? "etcdCert" : "etcdKey";
    problems.push({ key: missing, message: "etcdCert and etcdKey must be given together" });
  }
  if ((config.etcdUsername === undefined) !== (config.etcdPassword === undefined)) {
    const missing = config.etcdUsername === undefined ? "etcdUsername" : "etcdPassword";
    problems.push({
      key: missing,
      message: "etcdUsername and etcdPassword must be given together",
    });
  }
  for (const key of ["etcdCa", "etcdCert", "etcdKey"] as const) {
    const path = config[key];
    if (path === undefined) continue;
    try {
      readFileSync(path);
    } catch (error) {
      problems.push({ key, message: `cannot read ${path}: ${(error as Error).message}` });
    }
  }
}

function checkTls(config: CoordinatorConfig, problems: StartupProblem[]): TlsFiles | undefined {
  if (config.tlsCert === undefined && config.tlsKey === undefined) return undefined;
  if (config.tlsCert === undefined || config.tlsKey === undefined) {
    const missing = config.tlsCert === undefined ? "tlsCert" : "tlsKey";
    problems.push({ key: missing, message: "tlsCert and tlsKey must be given together" });
    return undefined;
  }
  const read = (path: string, key: "tlsCert" | "tlsKey") => {
    try {
      return readFileSync(path);
    } catch (error) {
      problems.push({ key, message: `cannot read ${path}: ${(error as Error).message}` });
      return undefined;
    }
  };
  const certChain = read(config.tlsCert, "tlsCert");
  const privateKey = read(config.tlsKey, "tlsKey");
  if (certChain === undefined || privateKey === undefined) return undefined;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certChain);
  } catch {
    problems.push({ key: "tlsCert", message: `${config.tlsCert} is not a PEM certificate` });
    return undefined;
  }
  try {
    const key = createPrivateKey(privateKey);
    if (!cert.checkPrivateKey(key)) {
      problems.push({
        key: "tlsKey",
        message: `${config.tlsKey} does not match the certificate in ${config.tlsCert}`,
      });
      return undefined;
    }
  } catch {
    problems.push({ key: "tlsKey", message: `${config.tlsKey} is not a PEM private key` });
    return undefined;
  }
  return { certChain, privateKey };
}
