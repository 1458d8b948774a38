# syntax=docker/dockerfile:1
# The one image every fixmesh service runs from: the connector, the venue simulator, and order-entry, risk and
# persistence once they land. `docker build -t fixmesh .` at the repository root; k8s/ runs it as
# `node apps/cli/dist/main.js <command> …` (the ENTRYPOINT below, with the command as arguments).
#
#   build      pnpm (installed with npm), the whole workspace installed from the lockfile and compiled
#   prod-deps  the production dependencies of @fixmesh/cli and of the workspace packages it needs, nothing else
#   runtime    Node 20 slim, the compiled code and those dependencies, owned by root and run by uid 1000: it
#              writes nothing, so it runs with a read-only root filesystem (k8s/ gives it /tmp as an emptyDir)
#
# Not `pnpm deploy`: it copies a workspace package's files as `npm pack` would choose them, and without a
# `files` list in package.json that honours .gitignore, which ignores dist/.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION=10.34.9
ENV CI=true
RUN npm install -g "pnpm@${PNPM_VERSION}"
WORKDIR /src
# The lockfile alone fills pnpm's store: this layer is rebuilt only when the lockfile changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --store-dir /pnpm-store
COPY . .
RUN pnpm install --frozen-lockfile --offline --store-dir /pnpm-store
RUN pnpm build
# What runs of each workspace package: its manifest, its compiled code without tests, type declarations and
# source maps, and its run-time files (the Lua scripts of the Redis store and of the election, the SQL
# migrations of persistence).
RUN set -eu; \
    for d in libs/* apps/*; do \
      if [ ! -f "$d/package.json" ]; then continue; fi; \
      mkdir -p "/out/$d"; \
      cp "$d/package.json" "/out/$d/"; \
      if [ -d "$d/dist" ]; then cp -R "$d/dist" "/out/$d/"; fi; \
      for r in lua migrations; do if [ -d "$d/$r" ]; then cp -R "$d/$r" "/out/$d/"; fi; done; \
    done; \
    find /out \( -name '*.test.js' -o -name '*.d.ts' -o -name '*.map' \) -type f -delete

FROM build AS prod-deps
# Every workspace manifest (so the lockfile matches), then only @fixmesh/cli and what it depends on, without
# development dependencies; the manifests of test/ and bench/ go again afterwards.
RUN set -eu; \
    mkdir -p /prod; \
    cp package.json pnpm-lock.yaml pnpm-workspace.yaml /prod/; \
    for d in libs/* apps/* test/* bench; do \
      if [ -f "$d/package.json" ]; then mkdir -p "/prod/$d" && cp "$d/package.json" "/prod/$d/"; fi; \
    done
WORKDIR /prod
RUN pnpm install --frozen-lockfile --offline --prod --store-dir /pnpm-store --filter "@fixmesh/cli..." \
 && rm -rf test bench

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /prod/ ./
COPY --from=build /out/ ./
# The node image's unprivileged user, by number so that Kubernetes can check runAsNonRoot.
USER 1000:1000
# --max-semi-space-size=32: the young generation the `fixmesh` launcher gives the services (docs/operations.md).
ENTRYPOINT ["node", "--max-semi-space-size=32", "apps/cli/dist/main.js"]
CMD ["help"]
