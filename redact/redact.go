// Package redact keeps phone numbers and secrets out of logs and dashboards.
package redact

// Phone masks all but the first three and last two digits: enough for an operator to
// match a number they already hold, not enough to dial it.
func Phone(p string) string {
	n := len(p)
	if n <= 5 {
		return "***"
	}
	b := []byte(p)
	for i := 3; i < n-2; i++ {
		b[i] = '*'
	}
	return string(b)
}

// Secret stands in for any credential that must be mentioned.
func Secret(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}
