import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/**
 * The dashboard package folder, found from the working directory (the package folder under
 * `pnpm --filter`, or anywhere inside the repository), so these helpers work both under jest
 * (CommonJS) and under tsx (ES modules) without `__dirname` or `import.meta`.
 */
function findDashboardDir(): string {
  for (let dir = resolve(process.cwd()); ; dir = dirname(dir)) {
    for (const candidate of [dir, join(dir, "dashboard")]) {
      const manifest = join(candidate, "package.json");
      if (
        existsSync(manifest) &&
        readFileSync(manifest, "utf8").includes('"name": "@strata/dashboard"')
      ) {
        return candidate;
      }
    }
    if (dirname(dir) === dir)
      throw new Error(`run from inside the Strata repository (cwd ${process.cwd()})`);
  }
}

/** The dashboard package folder. */
export const DASHBOARD_DIR = findDashboardDir();
/** The repository root. */
export const REPO_DIR = dirname(DASHBOARD_DIR);
/** The built `strata-worker` CLI (`pnpm --filter @strata/client-sdk build`). */
export const WORKER_BIN = join(REPO_DIR, "packages", "client-sdk", "dist", "worker-cli", "bin.js");
/** The built dashboard (`pnpm --filter @strata/dashboard build`). */
export const DASHBOARD_DIST = join(DASHBOARD_DIR, "dist");
/** Where the end-to-end tests save screenshots for people to look at (git-ignored). */
export const ARTIFACTS_DIR = join(DASHBOARD_DIR, "test-artifacts");
