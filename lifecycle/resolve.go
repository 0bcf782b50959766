package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// Resolved is one uncertain part settled by an operator, and its numbers moved.
type Resolved struct {
	Part    int
	Numbers int
}

// ResolveParts settles uncertain parts of batch id, as delivered or to be sent
// again: the parts listed, or every uncertain part when all is set. Every listed
// part is checked first, so a list naming a part that is not uncertain moves
// nothing.
func (m *Manager) ResolveParts(ctx context.Context, id string, parts []int, all, delivered bool) ([]Resolved, error) {
	man, err := m.store.Manifest(ctx, id)
	if err != nil {
		return nil, err
	}
	states, err := m.store.Parts(ctx, id, man.Parts)
	if err != nil {
		return nil, err
	}
	if all {
		parts = nil
		for _, ps := range states {
			if ps.State == ledger.PartUncertain {
				parts = append(parts, ps.Part)
			}
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("batch %s has no uncertain part: %w", id, ErrNothingToDo)
		}
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	var bad []string
	for _, p := range parts {
		switch {
		case p < 0 || p >= man.Parts:
			bad = append(bad, fmt.Sprintf("batch %s has parts 0-%d, not %d", id, man.Parts-1, p))
		case states[p].State != ledger.PartUncertain:
			bad = append(bad, fmt.Sprintf("part %d is %s, not uncertain", p, states[p].State))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("nothing resolved: %s: %w", strings.Join(bad, "; "), ErrNothingToDo)
	}
	out := make([]Resolved, 0, len(parts))
	for _, p := range parts {
		n, err := m.Resolve(ctx, id, p, delivered)
		if err != nil {
			return out, fmt.Errorf("part %d: %w (parts before it are resolved)", p, err)
		}
		out = append(out, Resolved{Part: p, Numbers: n})
	}
	return out, nil
}
