# syntax=docker/dockerfile:1

# Build: modules are downloaded in their own layer and both caches survive between
# builds, so a source change recompiles only what changed. CGO is off so that the
# binaries are static and run on any base image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/worker ./cmd/enqueue ./cmd/fakevendor

# Run: alpine rather than distroless because the healthcheck needs a client (busybox
# wget); ca-certificates for the vendors' HTTPS. One image holds all three commands:
# the worker by default, `--entrypoint enqueue` or `fakevendor` for the others.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates \
    && adduser -D -H -u 10001 dialq
COPY --from=build /out/ /usr/local/bin/
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# The worker's operators' port: /healthz, /readyz, /metrics, /monitoring/.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1
# Exec form: the worker is PID 1 and gets SIGTERM itself, so it can drain.
ENTRYPOINT ["/usr/local/bin/worker"]
