package compliance

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// UnknownListError: a campaign names a suppression list that does not exist. A
// misspelt list would otherwise suppress nothing, silently.
type UnknownListError struct{ List string }

func (e *UnknownListError) Error() string {
	return fmt.Sprintf("suppression list %q does not exist (enqueue suppress import -list %s FILE, or suppress add, creates it)", e.List, e.List)
}

// RequireLists returns an *UnknownListError for the first of lists that does not
// exist. A list exists once a number was added to it: every add and import sets
// the list's filter key (bloom.go) first, and nothing deletes it. Enqueue refuses
// such a campaign; the worker's Gate refuses to send under it.
func (s *Store) RequireLists(ctx context.Context, lists []string) error {
	if len(lists) == 0 {
		return nil
	}
	for _, l := range lists {
		if err := CheckList(l); err != nil {
			return err
		}
	}
	// One EXISTS a list: in Cluster the filters are in different slots.
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(lists))
	for i, l := range lists {
		cmds[i] = pipe.Exists(ctx, bloomKey(l))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("check suppression lists: %w", err)
	}
	for i, c := range cmds {
		if c.Val() == 0 {
			return &UnknownListError{List: lists[i]}
		}
	}
	return nil
}
