package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dialq/dialq/redact"
	"github.com/hibiken/asynqmon"
)

// PayloadFormatter shows a task payload in the dashboard as JSON with phone numbers
// masked and secret-looking fields dropped; anything else shows as "<N bytes>".
var PayloadFormatter = asynqmon.PayloadFormatterFunc(func(_ string, payload []byte) string {
	return redactJSON(payload)
})

// ResultFormatter treats task results the way PayloadFormatter treats payloads.
var ResultFormatter = asynqmon.ResultFormatterFunc(func(_ string, result []byte) string {
	return redactJSON(result)
})

// minPhoneDigits is the shortest digit run taken for a phone number. It also
// catches long numeric ids and timestamps; over-masking a dashboard is cheap, except
// for the ids an operator searches for, which hashLike keeps.
const minPhoneDigits = 7

// maxDepth bounds the recursion: the token stream does not limit nesting.
const maxDepth = 64

// secretWords drop a field whose name contains any of them, case-insensitively.
// Substring matching over-matches ("monkey"), which costs a field in a dashboard;
// missing a secret costs more.
var secretWords = []string{"token", "sign", "secret", "password", "passwd", "key", "credential", "authorization"}

var errTooDeep = errors.New("json nested too deeply")

// redactJSON re-encodes b with phone-like digit runs masked and secret-looking fields
// removed, keeping the fields in their original order.
func redactJSON(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := copyRedacted(dec, &buf, 0); err != nil {
		return notJSON(b)
	}
	if _, err := dec.Token(); err != io.EOF {
		return notJSON(b) // trailing data: not one JSON value
	}
	return buf.String()
}

func notJSON(b []byte) string { return fmt.Sprintf("<%d bytes>", len(b)) }

// copyRedacted copies the next JSON value from dec to buf.
func copyRedacted(dec *json.Decoder, buf *bytes.Buffer, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			buf.WriteByte('{')
			n := 0
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string) // the decoder only yields string keys inside an object
				if secretName(k) {
					if err := copyRedacted(dec, &bytes.Buffer{}, depth+1); err != nil {
						return err
					}
					continue
				}
				if n > 0 {
					buf.WriteByte(',')
				}
				n++
				writeString(buf, maskDigits(k))
				buf.WriteByte(':')
				if err := copyRedacted(dec, buf, depth+1); err != nil {
					return err
				}
			}
			buf.WriteByte('}')
		case '[':
			buf.WriteByte('[')
			for n := 0; dec.More(); n++ {
				if n > 0 {
					buf.WriteByte(',')
				}
				if err := copyRedacted(dec, buf, depth+1); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
		default:
			return fmt.Errorf("unexpected %v", t)
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		writeString(buf, maskDigits(t))
	case json.Number:
		// A masked number is no longer a number: show it as a string.
		if s := t.String(); maskDigits(s) != s {
			writeString(buf, maskDigits(s))
		} else {
			buf.WriteString(s)
		}
	case bool:
		fmt.Fprint(buf, t)
	case nil:
		buf.WriteString("null")
	default:
		return fmt.Errorf("unexpected token %T", tok)
	}
	return nil
}

// writeString writes s as a JSON string without HTML escaping, so that the
// dashboard shows "<" as "<".
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

func secretName(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// maskDigits masks every run of minPhoneDigits to maxPhoneDigits ASCII digits in s
// with redact.Phone, keeping its first three and last two digits, except inside a
// word that looks like a hash (see hashLike): batch ids ("speech-3039847b6e5c1b28")
// and the vendor task names made from them must stay whole to be searched for.
func maskDigits(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is already in b
	for i := 0; i < len(s); {
		if !isAlnum(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		if !hashLike(s[i:j]) {
			for k := i; k < j; {
				if !isDigit(s[k]) {
					k++
					continue
				}
				m := k
				for m < j && isDigit(s[m]) {
					m++
				}
				if m-k >= minPhoneDigits && m-k <= maxPhoneDigits {
					b.WriteString(s[last:k])
					b.WriteString(redact.Phone(s[k:m]))
					last = m
				}
				k = m
			}
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// maxPhoneDigits is the longest phone number (E.164: 15 digits with the country
// code). A longer run is an id, such as Yccall's task ids (a timestamp and a
// sequence, 20 digits), and is kept; a list of numbers glued together without
// separators would show, which no vendor format does.
const maxPhoneDigits = 15

// minHashLen is the shortest word taken for a hash: dialq's ids carry 12 (vendor
// task names) or 16 (batch ids) hex digits.
const minHashLen = 12

// maxHashDigitRun is the longest digit run a hash may hold: a run of 11 digits is a
// CN mobile number wherever it appears, so it is masked even inside a hex word. A
// random 16-hex id holds such a run about once in 60 and is then masked too; a
// landline glued to hex letters would show. Both are rare; the first is safe.
const maxHashDigitRun = 10

// hashLike reports whether the alphanumeric word w is a hex digest: at least
// minHashLen hex digits with at least one letter and no digit run longer than
// maxHashDigitRun.
func hashLike(w string) bool {
	if len(w) < minHashLen {
		return false
	}
	letter, run := false, 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case isDigit(c):
			if run++; run > maxHashDigitRun {
				return false
			}
			continue
		case 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
			letter = true
		default:
			return false
		}
		run = 0
	}
	return letter
}

func isAlnum(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
