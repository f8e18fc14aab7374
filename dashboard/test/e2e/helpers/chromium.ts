import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/**
 * Debian's Chromium (`apt-get install chromium`; `scripts/install-test-deps.sh` installs it), or
 * the path in `STRATA_CHROMIUM`.
 */
export const CHROMIUM_PATH = process.env.STRATA_CHROMIUM ?? "/usr/bin/chromium";

/** The flags that work headless in containers and CI (see the environment guide). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches headless Chromium through playwright-core; fails naming what to install. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM_PATH}: run scripts/install-test-deps.sh (apt-get install chromium) or set STRATA_CHROMIUM`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}
