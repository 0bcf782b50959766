package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/vendors/flashai"
)

// Kinds Discover lists.
var Kinds = []string{"scripts", "params", "lines", "agents"}

// ErrNotConfigured means no FLASHAI_* variable is set.
var ErrNotConfigured = errors.New("FlashAI is not configured here: set " + flashai.EnvBaseURL + ", " +
	flashai.EnvClientID + ", " + flashai.EnvClientSecret + " (or " + flashai.EnvClientSecret + "_FILE) and " +
	flashai.EnvUserID + ", as for the worker")

// ErrKind is a kind Discover does not know.
var ErrKind = errors.New("want scripts, params, lines or agents")

// Discover reads one kind of what the tenant has, live, and writes it to w as a
// table or, with asJSON, as one JSON array.
func Discover(ctx context.Context, w io.Writer, getenv envconf.Getenv, kind string, asJSON bool) error {
	var read func(r Reader) (any, [][]string, []string, error)
	switch kind {
	case "scripts":
		read = func(r Reader) (any, [][]string, []string, error) {
			s, err := r.GetBotence(ctx)
			rows := make([][]string, len(s))
			for i, x := range s {
				rows[i] = []string{x.ID, x.Name}
			}
			return s, rows, []string{"ID", "NAME"}, err
		}
	case "lines":
		read = func(r Reader) (any, [][]string, []string, error) {
			l, err := r.GetCallLine(ctx)
			rows := make([][]string, len(l))
			for i, x := range l {
				rows[i] = []string{x.ID, x.Name}
			}
			return l, rows, []string{"ID", "NAME"}, err
		}
	case "params":
		read = func(r Reader) (any, [][]string, []string, error) {
			p, err := r.QueryPlanParams(ctx)
			rows := make([][]string, len(p))
			for i, x := range p {
				rows[i] = []string{fmt.Sprint(x.Seq), x.Name, x.Type}
			}
			return p, rows, []string{"SEQ", "NAME", "TYPE"}, err
		}
	case "agents":
		read = func(r Reader) (any, [][]string, []string, error) {
			a, err := r.QueryAgentGroup(ctx)
			if err != nil {
				return nil, nil, nil, err
			}
			rows := make([][]string, len(a.Agents))
			for i, x := range a.Agents {
				rows[i] = []string{x.GroupID, x.GroupName, x.AgentID, x.AgentName}
			}
			if a.Total > len(a.Agents) {
				rows = append(rows, []string{"…", fmt.Sprintf("the vendor counts %d agents and listed %d", a.Total, len(a.Agents))})
			}
			return a.Agents, rows, []string{"GROUP", "GROUP NAME", "AGENT", "AGENT NAME"}, nil
		}
	default:
		return fmt.Errorf("%q: %w", kind, ErrKind)
	}
	client, _, configured, err := Client(getenv)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if !configured {
		return ErrNotConfigured
	}
	v, rows, head, err := read(retrying{client})
	if err != nil {
		return err
	}
	if asJSON {
		if len(rows) == 0 {
			v = []struct{}{} // [] rather than null
		}
		return json.NewEncoder(w).Encode(v)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "the tenant has no %s\n", kind)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range append([][]string{head}, rows...) {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
