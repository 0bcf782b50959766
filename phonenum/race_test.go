//go:build race

package phonenum

const diffComparisons = 100_000
