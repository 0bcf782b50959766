package flashai

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"
)

// NonceSource hands out nonces: 6 alphanumerics, none repeated within NonceTTL by
// any caller that shares the source's store.
type NonceSource interface {
	Nonce(ctx context.Context) (string, error)
}

const (
	// NonceLen is the length the vendor requires.
	NonceLen = 6
	// NonceTTL is how long the vendor remembers a nonce.
	NonceTTL = 10 * time.Minute
	// NonceKeyPrefix is followed by the nonce in the Redis key that reserves it.
	NonceKeyPrefix = "dialq:flashai:nonce:"
	// nonceAttempts bounds the draws per Nonce call. With 62^6 nonces, a run of
	// collisions this long means the store or the random source is broken.
	nonceAttempts = 8
)

const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RedisNonces draws random nonces and reserves each in Redis (SET NX with a
// ten-minute expiry) before it is used, so that the whole worker fleet never sends
// the same nonce twice within the vendor's window.
type RedisNonces struct {
	rdb  redis.UniversalClient
	rand io.Reader // crypto/rand.Reader; tests substitute a script
}

// NewRedisNonces returns a NonceSource backed by rdb.
func NewRedisNonces(rdb redis.UniversalClient) *RedisNonces {
	return &RedisNonces{rdb: rdb, rand: rand.Reader}
}

// ErrNonceExhausted means every draw of one Nonce call was already reserved.
var ErrNonceExhausted = errors.New("flashai nonce: every draw collided")

// Nonce draws and reserves a fresh nonce.
func (n *RedisNonces) Nonce(ctx context.Context) (string, error) {
	for range nonceAttempts {
		nonce, err := drawNonce(n.rand)
		if err != nil {
			return "", fmt.Errorf("flashai nonce: %w", err)
		}
		ok, err := n.rdb.SetNX(ctx, NonceKeyPrefix+nonce, 1, NonceTTL).Result()
		if err != nil {
			return "", fmt.Errorf("flashai nonce: reserve: %w", err)
		}
		if ok {
			return nonce, nil
		}
	}
	return "", ErrNonceExhausted
}

// drawNonce reads NonceLen uniform alphanumerics from r, rejecting bytes that
// would bias the draw (256 is not a multiple of 62).
func drawNonce(r io.Reader) (string, error) {
	const limit = 256 - 256%len(alphanumerics)
	out := make([]byte, 0, NonceLen)
	buf := make([]byte, NonceLen)
	for len(out) < NonceLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < NonceLen {
				out = append(out, alphanumerics[int(b)%len(alphanumerics)])
			}
		}
	}
	return string(out), nil
}

// ValidNonce reports whether s has the vendor's nonce form.
func ValidNonce(s string) bool {
	if len(s) != NonceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
