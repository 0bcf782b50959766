package monitor

import "context"

// AllReady is a Ready check that passes when every check passes, asked in order;
// the first failure is the answer.
func AllReady(checks ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, c := range checks {
			if err := c(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}
