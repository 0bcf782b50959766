package flashai

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testredis"
)

// script returns a reader that yields each of the given nonces' bytes in turn
// (alphanumerics[i] is drawn from byte i).
func script(nonces ...string) *bytes.Reader {
	var b []byte
	for _, n := range nonces {
		for i := 0; i < len(n); i++ {
			b = append(b, byte(strings.IndexByte(alphanumerics, n[i])))
		}
	}
	return bytes.NewReader(b)
}

func TestRedisNoncesReserve(t *testing.T) {
	db := testredis.New(t)
	ctx := context.Background()
	n := NewRedisNonces(db.Client)
	seen := map[string]bool{}
	for range 50 {
		nonce, err := n.Nonce(ctx)
		if err != nil {
			t.Fatalf("Nonce() error = %v", err)
		}
		if !ValidNonce(nonce) {
			t.Fatalf("Nonce() = %q; want 6 alphanumerics", nonce)
		}
		if seen[nonce] {
			t.Fatalf("Nonce() repeated %q", nonce)
		}
		seen[nonce] = true
		ttl, err := db.Client.TTL(ctx, NonceKeyPrefix+nonce).Result()
		if err != nil || ttl <= 9*time.Minute || ttl > NonceTTL {
			t.Fatalf("TTL(%s%s) = %v, %v; want about 10m", NonceKeyPrefix, nonce, ttl, err)
		}
	}
}

func TestRedisNoncesCollision(t *testing.T) {
	db := testredis.New(t)
	ctx := context.Background()
	// Another worker holds AAAAAA.
	if err := db.Client.Set(ctx, NonceKeyPrefix+"AAAAAA", 1, NonceTTL).Err(); err != nil {
		t.Fatal(err)
	}
	n := NewRedisNonces(db.Client)
	n.rand = script("AAAAAA", "AbC123")
	got, err := n.Nonce(ctx)
	if err != nil || got != "AbC123" {
		t.Fatalf("Nonce() after a collision = %q, %v; want AbC123", got, err)
	}
	if v, err := db.Client.Exists(ctx, NonceKeyPrefix+"AbC123").Result(); err != nil || v != 1 {
		t.Fatalf("AbC123 not reserved: %v, %v", v, err)
	}

	// Every draw taken: a bounded number of attempts, then an error.
	n.rand = script(strings.Split(strings.Repeat("AAAAAA,", nonceAttempts+1), ",")...)
	if _, err := n.Nonce(ctx); !errors.Is(err, ErrNonceExhausted) {
		t.Fatalf("Nonce() with every draw taken: error = %v; want ErrNonceExhausted", err)
	}
}

func TestRedisNoncesRedisDown(t *testing.T) {
	db := testredis.New(t)
	n := NewRedisNonces(db.Client)
	db.Client.Close()
	if _, err := n.Nonce(context.Background()); err == nil {
		t.Fatal("Nonce() with Redis closed: want an error")
	}
}

func TestDrawNonceRejectsBias(t *testing.T) {
	// Bytes 248-255 would bias the draw toward the first eight symbols: skipped.
	r := bytes.NewReader([]byte{255, 248, 0, 1, 2, 3, 4, 61, 0, 0, 0, 0})
	got, err := drawNonce(r)
	if err != nil || got != "ABCDE9" {
		t.Fatalf("drawNonce = %q, %v; want ABCDE9", got, err)
	}
	if _, err := drawNonce(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Fatal("drawNonce on a short reader: want an error")
	}
}

func TestValidNonce(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"abcdef", true}, {"A1b2C3", true}, {"abcde", false}, {"abcdefg", false},
		{"abc-ef", false}, {"abcdé", false}, {"", false},
	}
	for _, tt := range tests {
		if got := ValidNonce(tt.in); got != tt.want {
			t.Errorf("ValidNonce(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}
