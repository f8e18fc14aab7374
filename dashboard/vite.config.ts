import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The coordinator the dev server proxies `/api` (the event stream included) and `/metrics` to.
 * Default `http://127.0.0.1:3000`, the coordinator's default HTTP address; override with
 * `STRATA_COORDINATOR_URL=http://host:port pnpm --filter @strata/dashboard dev`.
 */
const coordinator = process.env.STRATA_COORDINATOR_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  // The coordinator serves dist/ at "/" and falls back to index.html for client-side routes.
  base: "/",
  plugins: [react(), tailwindcss()],
  server: {
    host: "127.0.0.1",
    proxy: {
      "/api": { target: coordinator, changeOrigin: true },
      "/metrics": { target: coordinator, changeOrigin: true },
    },
  },
  preview: { host: "127.0.0.1" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    chunkSizeWarningLimit: 600,
  },
});
