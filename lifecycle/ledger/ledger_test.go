package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// The read side must not lead to a write: not by its methods, and not by a type
// assertion on the value NewReader returns (the raw store is wrapped).
func TestReaderCannotWrite(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"})
	defer rdb.Close()
	r := ledger.NewReader(rdb)
	writers := []struct {
		name   string
		writes func(any) bool
	}{
		{"SetPartState", func(x any) bool {
			_, ok := x.(interface {
				SetPartState(context.Context, string, int, ledger.PartState, time.Time, string) (ledger.Settled, error)
			})
			return ok
		}},
		{"MarkInflight", func(x any) bool {
			_, ok := x.(interface {
				MarkInflight(context.Context, string, int, chunking.Range) error
			})
			return ok
		}},
		{"RecordRange", func(x any) bool {
			_, ok := x.(interface {
				RecordRange(context.Context, string, int, ledger.RangeResult) (bool, error)
			})
			return ok
		}},
		{"Forget", func(x any) bool {
			_, ok := x.(interface {
				Forget(context.Context, string) error
			})
			return ok
		}},
	}
	for _, w := range writers {
		if w.writes(r) {
			t.Errorf("a ledger.Reader asserts to a writer with %s: the raw store leaks", w.name)
		}
	}
}
