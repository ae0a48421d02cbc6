# Shoal in a container: `docker build -t shoal . && docker run -p 1883:1883 -v shoal-data:/var/lib/shoal shoal`
# Settings: /etc/shoal/shoal.yaml (mount your own over it), or SHOAL_<FLAG> environment variables,
# or flags after the image name (`docker run shoal --max-inflight 50`).

# Dependencies stage: the runtime dependencies from the lockfile (dev tools, tests and benches stay out).
FROM node:26-bookworm-slim AS deps
WORKDIR /opt/shoal
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Build stage: the package build (tsc, then one minified bundle per thread's entry), as the npm
# package ships it. The built form is what an operator should run: no type stripper in every
# isolate and fewer module sources kept, ~40 MiB less at 2 shards (BENCHMARKS.md, "Footprint").
FROM node:26-bookworm-slim AS build
WORKDIR /opt/shoal
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY build ./build
COPY src ./src
RUN npm run build

# Run stage: the build and the runtime dependencies; bin/shoal.js runs dist/ when there is no src/.
FROM node:26-bookworm-slim
WORKDIR /opt/shoal
COPY --from=deps /opt/shoal/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /opt/shoal/dist ./dist
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
COPY deploy/shoal.yaml /etc/shoal/shoal.yaml
RUN install -d -o node -g node /var/lib/shoal
ENV SHOAL_CONFIG=/etc/shoal/shoal.yaml
# The admin port (/health, /ready, /metrics) on the container's loopback: the health check uses
# it. To reach it from outside, set SHOAL_HTTP_HOST=0.0.0.0 and SHOAL_HTTP_TOKEN, and publish 9090.
ENV SHOAL_HTTP_PORT=9090
VOLUME /var/lib/shoal
EXPOSE 1883
USER node
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "deploy/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/shoal.js"]
