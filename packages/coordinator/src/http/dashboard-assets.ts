import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import express, { Router } from "express";

/** Hashed build assets never change under a name: browsers may keep them a year. */
const IMMUTABLE = "public, max-age=31536000, immutable";

const PLACEHOLDER = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strata coordinator</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2933}code{background:#eef2f7;padding:.1rem .3rem;border-radius:4px}</style>
</head>
<body>
<h1>Strata coordinator</h1>
<p>The coordinator is running, but the dashboard is not built.</p>
<p>Build it with <code>pnpm --filter @strata/dashboard build</code> (it lands in <code>dashboard/dist</code>),
or point the coordinator at a built copy with <code>--dashboard-dir</code> (<code>STRATA_DASHBOARD_DIR</code>).</p>
<p>The API is available now: <a href="/api/status">/api/status</a>, <a href="/api/dashboard">/api/dashboard</a>, the event stream at <code>/api/events</code>.</p>
</body>
</html>
`;

/**
 * The built dashboard at `/`: files from `dir` (`index.html` and `assets/`), hashed assets with
 * year-long immutable caching, every other GET that is not an API path answered with
 * `index.html` (client-side routes), which is never cached so a new build shows at once. While
 * `dir` has no `index.html`, `/` answers a page saying how to build it. Public: the page holds no
 * data; the API it calls needs the token or a session.
 */
export function dashboardAssets(dir: string | undefined): Router {
  const router = Router();
  const root = dir === undefined ? undefined : resolve(dir);
  const index = root === undefined ? undefined : join(root, "index.html");
  if (root !== undefined) {
    router.use(
      "/assets",
      express.static(join(root, "assets"), {
        index: false,
        fallthrough: false,
        setHeaders: (response) => response.setHeader("cache-control", IMMUTABLE),
      }),
    );
    router.use(
      express.static(root, {
        index: false,
        setHeaders: (response) => response.setHeader("cache-control", "no-cache"),
      }),
    );
  }
  router.get(/^(?!\/api(\/|$)|\/metrics$).*/, (request, response, next) => {
    if (!request.accepts("html")) {
      next();
      return;
    }
    response.set("cache-control", "no-cache");
    if (index !== undefined && existsSync(index)) response.sendFile(index);
    else response.status(200).type("html").send(PLACEHOLDER);
  });
  return router;
}
