//go:build race

package ingest

const normaliseChecks = 1000
