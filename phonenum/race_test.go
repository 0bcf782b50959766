//go:build race

package phonenum

const diffComparisons = 100_000

const raceDivisor = 5
