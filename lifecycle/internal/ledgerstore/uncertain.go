package ledgerstore

import (
	"context"
	"sort"
)

// UncertainPart is a part that waits for an operator: how many of its numbers are
// uncertain, and the vendor tasks to ask the vendor about (the tasks its calls
// made, and the task each uncertain call was making).
type UncertainPart struct {
	Part    int      `json:"part"`
	Numbers int      `json:"numbers"`
	Tasks   []string `json:"vendor_tasks,omitempty"`
}

// maxUncertainListed bounds the uncertain parts Status details.
const maxUncertainListed = 1000

// uncertainParts details the uncertain parts among parts.
func (s *Store) uncertainParts(ctx context.Context, id string, parts []PartStatus) ([]UncertainPart, error) {
	var out []UncertainPart
	for _, ps := range parts {
		if ps.State != PartUncertain {
			continue
		}
		if len(out) == maxUncertainListed {
			break
		}
		pp, err := s.Progress(ctx, id, ps.Part)
		if err != nil {
			return nil, err
		}
		out = append(out, uncertainOf(ps.Part, pp))
	}
	return out, nil
}

func uncertainOf(part int, pp *PartProgress) UncertainPart {
	u := UncertainPart{Part: part}
	for _, sm := range pp.Done {
		u.Numbers += sm.Uncertain
	}
	seen := map[string]bool{}
	for _, t := range CallTasks(pp.Extra) {
		if !seen[t.Name] {
			seen[t.Name] = true
			u.Tasks = append(u.Tasks, t.Name)
		}
	}
	sort.Strings(u.Tasks)
	return u
}
