// Package csvcell is the one rule for every CSV cell dialq writes (-rejects,
// failures, suppress export, audit): a spreadsheet must not run it as a formula.
package csvcell

import "strings"

// Safe prefixes with ' a cell that starts with = + - @, a tab or a CR, the OWASP
// rule for CSV injection. Numbers are no exception: "-2+3" or "+1-1" would be
// evaluated, and telling a phone number from a formula is the spreadsheet's guess,
// not ours. dialq's own input readers drop the ' again before a number (Unquote),
// so a written file stays valid enqueue input.
func Safe(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// Unquote undoes Safe on a phone cell: one leading ' before what may start a
// number (a digit, +, -, or a parenthesis) is dropped. Anything else is left for
// validation to refuse.
func Unquote(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.IndexByte("0123456789+-(", s[1]) >= 0 {
		return s[1:]
	}
	return s
}
