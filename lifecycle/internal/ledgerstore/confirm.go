package ledgerstore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Confirm runs write through the store's Confirmer (WithConfirmer): for marks
// kept outside the ledger that must be as durable as its in-flight marks before
// a vendor call (a redial's, package results). key picks the node on a Cluster.
func (s *Store) Confirm(ctx context.Context, key string, write func(p redis.Pipeliner)) error {
	return s.confirm.Confirm(ctx, key, write)
}
