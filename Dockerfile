# The rotator worker image (also contains the `rotator` CLI).
#   docker build -t rustfs-rotator .
#   docker run --env-file worker.env rustfs-rotator            # the worker (default)
#   docker run --entrypoint node rustfs-rotator dist/cli.js --help   # the CLI
#
# Node 22 (LTS, supported until April 2027): the image runs a supported Node line. Node 20
# is past its end of life; `engines` in package.json still allows 20.x (from 20.3) because
# the machines that develop and run CI have only Node 20, and ">= 22" covers this image.
# Both stages use the same line: the native modules npm installs must match the runtime.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json
# The workflow bundle, so that the worker does not run webpack at every start (memory).
RUN npm run -s build:workflows

FROM node:22-bookworm-slim
ENV NODE_ENV=production
# Memory (bench/RESULTS.md §5): a capped old space and small young generation per V8 isolate,
# two malloc arenas for the native threads. Peak RSS ~220 MB at 100 zones instead of ~300 MB;
# raise --max-old-space-size for inventories of many hundreds of zones.
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2" MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
# Unprivileged; the worker needs no file system writes.
USER node
# SIGTERM from `docker stop` / Kubernetes drains the worker (ROTATOR_SHUTDOWN_GRACE).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/worker/main.js"]
