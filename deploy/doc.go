// Package deploy holds no code, only the tests of the container files at the
// repository root: docker-compose.yml is loaded with the Compose specification's
// own loader (compose-go) and run as local processes, "docker compose up" without
// an engine; the Dockerfile and .dockerignore are checked as data; the Kubernetes
// manifests under deploy/kubernetes are decoded strictly with the Kubernetes API
// types and checked against the Dockerfile and against the variables the programs
// read, derived from their source.
package deploy
