package monitor

import "regexp"

var (
	duplicateOfLine = regexp.MustCompile(`^duplicate of line \d+$`)
	// a number as maskDigits leaves it (138*****00), or a long digit run
	maskedNumber = regexp.MustCompile(`\d{3}\*+\d{2}|\*\*\*|\d{7,}`)
)

// reasonKey is the row a reason counts in on a "by reason" table: every duplicate
// is one row whatever line it repeats, and a vendor message that names a number
// counts with the same message naming any other.
func reasonKey(masked string) string {
	if duplicateOfLine.MatchString(masked) {
		return "duplicate"
	}
	return maskedNumber.ReplaceAllString(masked, "<number>")
}
