import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { S3RVER_CREDENTIALS } from "../src/testing/index.js";

/** Debian's awscli v2. The `aws` on PATH may be an older pyenv one, so the path is explicit. */
export const AWS_CLI = "/usr/bin/aws";

/** Fails clearly when the AWS CLI is missing (CI installs the Debian package `awscli`). */
export function requireAwsCli(): void {
  if (!existsSync(AWS_CLI)) {
    throw new Error(
      `${AWS_CLI} is missing: install the Debian package awscli (apt-get install awscli)`,
    );
  }
}

/** Runs `/usr/bin/aws --endpoint-url <endpoint> ...args` with s3rver's credentials; resolves stdout as bytes. */
export function aws(endpoint: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      AWS_CLI,
      ["--endpoint-url", endpoint, ...args, ...(args[0] === "s3" ? ["--only-show-errors"] : [])],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: process.env.HOME ?? "/tmp",
          AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
          AWS_DEFAULT_REGION: "us-east-1",
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_PAGER: "",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`aws ${args.join(" ")} exited with ${code}: ${err}`));
    });
  });
}
