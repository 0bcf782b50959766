// Package redact keeps phone numbers and secrets out of logs and dashboards.
package redact

import (
	"strings"
	"unicode/utf8"
)

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

// maxMessageRunes bounds the vendor text kept in an error.
const maxMessageRunes = 200

// Message makes a vendor's message fit for an error string or a log line: valid
// UTF-8, at most 200 characters, and every run of seven or more digits masked,
// since vendors echo the numbers they were sent.
func Message(m string) string {
	m = strings.ToValidUTF8(m, "\uFFFD")
	if utf8.RuneCountInString(m) > maxMessageRunes {
		m = string([]rune(m)[:maxMessageRunes]) + "…"
	}
	var b strings.Builder
	for i := 0; i < len(m); {
		j := i
		for j < len(m) && m[j] >= '0' && m[j] <= '9' {
			j++
		}
		switch {
		case j-i >= 7:
			b.WriteString(Phone(m[i:j]))
			i = j
		case j > i:
			b.WriteString(m[i:j])
			i = j
		default:
			b.WriteByte(m[i])
			i++
		}
	}
	return b.String()
}
