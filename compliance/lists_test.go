package compliance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dialq/dialq/compliance/policy"
)

// A list that does not exist is refused by name, at enqueue (RequireLists) and by
// the worker's gate before a call; once a number was added it exists, even
// after the number is removed.
func TestRequireLists(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	var unknown *UnknownListError
	if err := s.RequireLists(ctx, []string{"nosuchlist"}); !errors.As(err, &unknown) || unknown.List != "nosuchlist" {
		t.Fatalf("RequireLists(nosuchlist) = %v; want UnknownListError naming it", err)
	}
	cfg := policy.Compliance{Suppress: []string{"dnc", "nosuchlist"}}
	if _, err := s.Add(ctx, "dnc", []string{"+8613800138000"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewGate(s).BeforeCall(ctx, "b1", cfg, []string{"+8613900139000"}, time.Now()); !errors.As(err, &unknown) || unknown.List != "nosuchlist" {
		t.Fatalf("BeforeCall under an unknown list = %v; want UnknownListError", err)
	}
	if err := s.RequireLists(ctx, []string{"dnc"}); err != nil {
		t.Fatalf("RequireLists(dnc) after an add = %v", err)
	}
	if _, err := s.Remove(ctx, "dnc", []string{"+8613800138000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RequireLists(ctx, []string{"dnc"}); err != nil {
		t.Fatalf("RequireLists(dnc) of an emptied list = %v; want it to exist", err)
	}
	if err := s.RequireLists(ctx, []string{"bad list"}); err == nil || errors.As(err, &unknown) {
		t.Fatalf("RequireLists(bad name) = %v; want the name refused", err)
	}
}
