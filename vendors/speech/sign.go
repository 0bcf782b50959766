package speech

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Signer computes the sign header. body is the exact bytes sent.
type Signer interface {
	Sign(appID, timestamp string, body []byte) (string, error)
}

// DefaultTemplate is the signed text when SignOptions.Template is empty.
const DefaultTemplate = "{appId}{timestamp}"

// Template placeholders.
const (
	PlaceholderAppID     = "{appId}"
	PlaceholderTimestamp = "{timestamp}"
	PlaceholderBody      = "{body}"
)

// SignOptions pick what an RSASigner signs and how. The zero value is the default:
// SHA-256 over appId+timestamp.
type SignOptions struct {
	// Hash is crypto.SHA256 (zero means this) or crypto.SHA1.
	Hash crypto.Hash
	// Template is the signed text with placeholders; empty means DefaultTemplate.
	Template string
}

func (o SignOptions) normalize() (SignOptions, error) {
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	if o.Hash != crypto.SHA256 && o.Hash != crypto.SHA1 {
		return o, fmt.Errorf("speech sign: hash %v not supported (sha256 or sha1)", o.Hash)
	}
	if o.Template == "" {
		o.Template = DefaultTemplate
	}
	if err := checkTemplate(o.Template); err != nil {
		return o, err
	}
	return o, nil
}

// ParseHash reads a hash name as given in SPEECH_SIGN_HASH; empty means SHA-256.
func ParseHash(name string) (crypto.Hash, error) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(name), "-", "")) {
	case "", "sha256":
		return crypto.SHA256, nil
	case "sha1":
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("speech sign: hash %q not supported (sha256 or sha1)", name)
}

// checkTemplate refuses a {word} that is not a placeholder: a typo such as {appid}
// would otherwise be signed literally and fail only at the vendor.
func checkTemplate(t string) error {
	for i := 0; i < len(t); i++ {
		if t[i] != '{' {
			continue
		}
		end := strings.IndexByte(t[i:], '}')
		if end < 0 {
			continue
		}
		word := t[i : i+end+1]
		if !isWord(word[1 : len(word)-1]) {
			continue
		}
		switch word {
		case PlaceholderAppID, PlaceholderTimestamp, PlaceholderBody:
		default:
			return fmt.Errorf("speech sign: unknown placeholder %s in template (use {appId}, {timestamp}, {body})", word)
		}
	}
	return nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Message expands template in one pass, so placeholders inside the substituted
// values (a body that contains "{appId}") stay as they are.
func Message(template, appID, timestamp string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(template) + len(appID) + len(timestamp) + len(body))
	for i := 0; i < len(template); {
		rest := template[i:]
		switch {
		case strings.HasPrefix(rest, PlaceholderAppID):
			b.WriteString(appID)
			i += len(PlaceholderAppID)
		case strings.HasPrefix(rest, PlaceholderTimestamp):
			b.WriteString(timestamp)
			i += len(PlaceholderTimestamp)
		case strings.HasPrefix(rest, PlaceholderBody):
			b.Write(body)
			i += len(PlaceholderBody)
		default:
			b.WriteByte(template[i])
			i++
		}
	}
	return b.Bytes()
}

func digest(h crypto.Hash, msg []byte) []byte {
	if h == crypto.SHA1 {
		d := sha1.Sum(msg)
		return d[:]
	}
	d := sha256.Sum256(msg)
	return d[:]
}

// RSASigner is the default Signer: base64(RSA PKCS#1 v1.5 over the hash of the
// expanded template). PKCS#1 v1.5 is deterministic, so signatures can be pinned.
type RSASigner struct {
	key  *rsa.PrivateKey
	opts SignOptions
}

// NewRSASigner builds a signer from a PEM private key (PKCS#8 or PKCS#1).
func NewRSASigner(pemKey []byte, opts SignOptions) (*RSASigner, error) {
	key, err := ParsePrivateKey(pemKey)
	if err != nil {
		return nil, err
	}
	return NewRSASignerFromKey(key, opts)
}

// NewRSASignerFromKey builds a signer from a parsed key.
func NewRSASignerFromKey(key *rsa.PrivateKey, opts SignOptions) (*RSASigner, error) {
	if key == nil {
		return nil, errors.New("speech sign: nil private key")
	}
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	return &RSASigner{key: key, opts: opts}, nil
}

// Sign implements Signer.
func (s *RSASigner) Sign(appID, timestamp string, body []byte) (string, error) {
	msg := Message(s.opts.Template, appID, timestamp, body)
	sig, err := rsa.SignPKCS1v15(nil, s.key, s.opts.Hash, digest(s.opts.Hash, msg))
	if err != nil {
		return "", fmt.Errorf("speech sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Public is the key the tenant uploads to the vendor.
func (s *RSASigner) Public() *rsa.PublicKey { return &s.key.PublicKey }

// Options returns the options in force, defaults filled in.
func (s *RSASigner) Options() SignOptions { return s.opts }

// Verifier returns the matching verifier: same public key, same options.
func (s *RSASigner) Verifier() *RSAVerifier {
	return &RSAVerifier{pub: s.Public(), opts: s.opts}
}

// RSAVerifier checks signatures made by an RSASigner with the same options; the
// fake vendor uses it.
type RSAVerifier struct {
	pub  *rsa.PublicKey
	opts SignOptions
}

// NewRSAVerifier builds a verifier for pub.
func NewRSAVerifier(pub *rsa.PublicKey, opts SignOptions) (*RSAVerifier, error) {
	if pub == nil {
		return nil, errors.New("speech verify: nil public key")
	}
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	return &RSAVerifier{pub: pub, opts: opts}, nil
}

// Verify reports whether sig (base64) signs appID, timestamp and body.
func (v *RSAVerifier) Verify(appID, timestamp string, body []byte, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return errors.New("speech verify: signature is not base64")
	}
	msg := Message(v.opts.Template, appID, timestamp, body)
	if err := rsa.VerifyPKCS1v15(v.pub, v.opts.Hash, digest(v.opts.Hash, msg), raw); err != nil {
		return fmt.Errorf("speech verify: %w", err)
	}
	return nil
}

// Verify checks sig against pub with opts; see RSAVerifier.
func Verify(pub *rsa.PublicKey, opts SignOptions, appID, timestamp string, body []byte, sig string) error {
	v, err := NewRSAVerifier(pub, opts)
	if err != nil {
		return err
	}
	return v.Verify(appID, timestamp, body, sig)
}

// ParsePrivateKey reads the first PEM block of pemKey as an RSA private key in
// PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY") form. Errors never quote the key.
func ParsePrivateKey(pemKey []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return nil, errors.New("speech key: no PEM block found (want -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted {
		return nil, errors.New("speech key: encrypted PEM is not supported; give the key unencrypted")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("speech key: bad PKCS#1 key: %w", err)
		}
		return key, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("speech key: bad PKCS#8 key: %w", err)
		}
		key, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("speech key: PKCS#8 key is %T, not RSA", k)
		}
		return key, nil
	}
	return nil, fmt.Errorf("speech key: PEM block %q is not a private key (want PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
}
