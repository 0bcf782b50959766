package testworld

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/producer"
)

// Batch is a list as an operator would enqueue it.
type Batch struct {
	Vendor string
	// Campaign is the campaign JSON; nil reads examples/<vendor>.json (from a
	// package directory, as go test runs there).
	Campaign []byte
	// List is the numbers file, one a line.
	List string
	// PartSize and CallSize override the vendor's profile where not zero.
	PartSize, CallSize int
	// Source is the batch's source name (the list's file name).
	Source string
}

// Enqueue puts b through the real enqueue path (producer.Enqueue) on db.
func Enqueue(t testing.TB, db *testredis.DB, b Batch) *producer.Summary {
	t.Helper()
	data := b.Campaign
	if data == nil {
		var err error
		if data, err = os.ReadFile(filepath.Join("..", "examples", b.Vendor+".json")); err != nil {
			t.Fatal(err)
		}
	}
	c, err := producer.CampaignJSON(b.Vendor, data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := producer.Profile(b.Vendor, b.PartSize, b.CallSize)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := producer.Enqueue(context.Background(), db.Client, redisconf.AsynqOpt(db.Opt), strings.NewReader(b.List), producer.Request{
		Vendor: b.Vendor, Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: b.Source,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// Phones makes n distinct valid CN mobile numbers, from offset on.
func Phones(n, offset int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("139%08d", offset+i)
	}
	return out
}
