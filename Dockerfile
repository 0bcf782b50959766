# syntax=docker/dockerfile:1

# Build: modules are downloaded in their own layer and both caches survive between
# builds, so a source change recompiles only what changed. CGO is off so that the
# binaries are static and run on any base image. .git is not in the context, so the
# version and revision come in as build arguments:
#   docker build --build-arg VERSION=v1.2.3 --build-arg REVISION=$(git rev-parse HEAD) .
FROM golang:1.26 AS build
ARG VERSION=devel
ARG REVISION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
    -ldflags="-s -w -X github.com/dialq/dialq/internal/buildinfo.version=${VERSION} -X github.com/dialq/dialq/internal/buildinfo.revision=${REVISION}" \
    -o /out/ ./cmd/worker ./cmd/enqueue ./cmd/fakevendor

# Run: alpine rather than distroless because the healthcheck needs a client (busybox
# wget); ca-certificates for the vendors' HTTPS. Numeric USER, so that Kubernetes'
# runAsNonRoot can verify it.
FROM alpine:3.22 AS runtime
RUN apk add --no-cache ca-certificates \
    && adduser -D -H -u 10001 dialq
USER 10001:10001

# The fake vendor, for the compose demo only (`target: fakevendor`): it accepts
# anything signed with the demo credentials, so production images do not carry it.
FROM runtime AS fakevendor
COPY --from=build /out/fakevendor /usr/local/bin/
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/fakevendor"]

# The production image, the default (last) target: the worker by default,
# `--entrypoint /usr/local/bin/enqueue` for the producer.
FROM runtime AS worker
COPY --from=build /out/worker /out/enqueue /usr/local/bin/
# The worker's operators' port: /healthz, /readyz, /metrics, /monitoring/.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1
# Exec form: the worker is PID 1 and gets SIGTERM itself, so it can drain.
ENTRYPOINT ["/usr/local/bin/worker"]
