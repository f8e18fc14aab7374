# The Strata coordinator image. Build: docker build -t strata-coordinator .
# Multi-stage: build every package with the workspace's locked dependencies, then ship only the
# production install, run as the unprivileged `node` user.
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN npm install -g pnpm@12
COPY . .
RUN pnpm install --frozen-lockfile && pnpm build && pnpm --filter @strata/coordinator deploy --prod /app

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /data && chown node:node /data
USER node
ENV STRATA_DATA_DIR=/data STRATA_GRPC_ADDR=0.0.0.0:50051 STRATA_HTTP_ADDR=0.0.0.0:3000
EXPOSE 50051 3000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:3000/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/bin.js"]
