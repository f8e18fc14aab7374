# Strata images, built from this repository (docker compose up --build builds both):
#
#   docker build -t strata-coordinator .                   # the coordinator, serving the dashboard
#   docker build --target worker -t strata-worker .        # the strata-worker training CLI
#
# One build stage compiles every package (and the dashboard) with the locked dependencies; the
# images run as the unprivileged `node` user and carry a health check.

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN npm install -g pnpm@12.21.0
COPY . .
RUN pnpm install --frozen-lockfile && pnpm build

FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /data && chown node:node /data
USER node

# strata-worker: generates its dataset under /data, checkpoints to STRATA_CHECKPOINT_STORAGE,
# writes a health file every 2 s; healthy while the coordinator acknowledged a heartbeat in the
# last minute.
FROM runtime AS worker
ENV STRATA_WORKER_DATA_DIR=/data \
    STRATA_WORKER_HEALTH_FILE=/tmp/strata-worker-health.json \
    STRATA_WORKER_PROGRESS=json
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const h=JSON.parse(require('fs').readFileSync('/tmp/strata-worker-health.json','utf8'));process.exit(Date.now()-h.lastHeartbeatMs<60000?0:1)"]
CMD ["node", "packages/client-sdk/dist/worker-cli/bin.js"]

# The coordinator (the default target): gRPC on 50051; HTTP (dashboard, API, health, metrics) on 3000.
FROM runtime AS coordinator
ENV STRATA_DATA_DIR=/data \
    STRATA_GRPC_ADDR=0.0.0.0:50051 \
    STRATA_HTTP_ADDR=0.0.0.0:3000 \
    STRATA_DASHBOARD_DIR=/app/dashboard/dist
EXPOSE 50051 3000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "packages/coordinator/dist/bin.js"]
