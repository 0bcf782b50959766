package preflight

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
)

type flaky struct {
	fails []error
	calls int
}

func (f *flaky) next() error {
	f.calls++
	if len(f.fails) == 0 {
		return nil
	}
	err := f.fails[0]
	f.fails = f.fails[1:]
	return err
}

func (f *flaky) GetBotence(context.Context) ([]flashai.Script, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return []flashai.Script{{ID: "1"}}, nil
}
func (f *flaky) QueryPlanParams(context.Context) ([]flashai.Param, error) { return nil, f.next() }
func (f *flaky) GetCallLine(context.Context) ([]flashai.Line, error)      { return nil, f.next() }
func (f *flaky) QueryAgentGroup(context.Context) (*flashai.AgentList, error) {
	return &flashai.AgentList{}, f.next()
}

func TestRetry(t *testing.T) {
	old := readBackoff
	readBackoff = time.Millisecond
	t.Cleanup(func() { readBackoff = old })
	transient := &vendors.HTTPStatusError{Vendor: "flashai", Op: "getBotence", StatusCode: 503}
	malformed := &vendors.MalformedError{Vendor: "flashai", Op: "getBotence", Err: errors.New("cut")}
	permanent := &flashai.APIError{Op: "getBotence", Code: "101001"}
	tests := []struct {
		name      string
		fails     []error
		calls     int
		wantError bool
	}{
		{"passing faults", []error{transient, malformed}, 3, false},
		{"permanent", []error{permanent}, 1, true},
		{"persistent", []error{transient, transient, transient, transient, transient, transient}, readAttempts, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{fails: tt.fails}
			s, err := retrying{f}.GetBotence(context.Background())
			if f.calls != tt.calls || (err != nil) != tt.wantError || (err == nil && len(s) != 1) {
				t.Errorf("%d calls, %v, %v; want %d calls, error %v", f.calls, s, err, tt.calls, tt.wantError)
			}
		})
	}
}
