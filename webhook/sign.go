package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Header names of every delivery.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the body keyed
	// with WEBHOOK_SECRET.
	HeaderSignature = "X-Dialq-Signature"
	// HeaderEventID is the event's id: the same on every retry of one event, so a
	// receiver can drop repeats.
	HeaderEventID = "X-Dialq-Event-Id"
)

const signaturePrefix = "sha256="

// Sign returns the X-Dialq-Signature value for body: "sha256=<hex HMAC-SHA256>".
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header (an X-Dialq-Signature value) is body's signature
// under secret. It compares in constant time, and an empty secret never verifies.
func Verify(secret string, body []byte, header string) bool {
	if secret == "" || !strings.HasPrefix(header, signaturePrefix) {
		return false
	}
	got, err := hex.DecodeString(strings.TrimPrefix(header, signaturePrefix))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
