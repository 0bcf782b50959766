package flashai

import (
	"context"
	"crypto/rand"
	"fmt"
)

// RandomNonces draws nonces without reserving them: for a few hand-run reads
// (discovery, the preflight of an enqueue without Redis) where no Redis is at hand.
// A draw matches one of the fleet's reserved nonces with odds of about one in
// 62^6 / (nonces in flight); the vendor then answers 1003 and nothing was
// processed, so writes must keep using RedisNonces.
type RandomNonces struct{}

// Nonce draws a nonce.
func (RandomNonces) Nonce(context.Context) (string, error) {
	n, err := drawNonce(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("flashai nonce: %w", err)
	}
	return n, nil
}
