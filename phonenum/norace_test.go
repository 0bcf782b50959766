//go:build !race

package phonenum

// diffComparisons is how many numbers TestDifferential checks; the race detector
// slows libphonenumber about tenfold, so it checks fewer there (race_test.go).
const diffComparisons = 1_000_000

// raceDivisor scales the other randomised tests down under the race detector.
const raceDivisor = 1
