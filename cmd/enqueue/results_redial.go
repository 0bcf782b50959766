package main

import (
	"context"
	"fmt"

	"github.com/dialq/dialq/results"
)

// importRedials schedules the redials an import calls for (the campaign's
// recycle rule) and says what it did.
func importRedials(ctx context.Context, c *conn, st *results.Store, id string, got *results.Imported, e env) error {
	if err := results.ScheduleRedials(ctx, c.life, st, c.client, id, got); err != nil {
		return fmt.Errorf("results stored, but scheduling redials failed (import the file again to retry): %w", err)
	}
	if got.Redials > 0 {
		fmt.Fprintf(e.stderr, "redials scheduled for %d parts (the campaign's recycle rule)\n", got.Redials)
	}
	if got.Late > 0 {
		fmt.Fprintf(e.stderr, "warning: %d numbers to redial arrived after their part's next attempt went out: stored, not redialled\n", got.Late)
	}
	return nil
}
