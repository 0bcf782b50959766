package flashai

// Discovery: what the tenant has (scripts, script variables, lines, agents) and how
// a batch is doing on each line. Choices made where seed 004 is silent:
//
//   - botenceList and lineList are entries joined by "|"; an entry is "id^name" or a
//     bare id (the seed calls botenceList "script names" and lineList "lines" and
//     shows neither). Both forms are accepted: a bare id gets an empty name, and a
//     name holding "^" keeps it (only the first "^" separates). Empty entries are
//     skipped; an entry with an empty id is a malformed answer.
//   - The lists may also arrive as a JSON array of such strings.
//   - paramSeqLsit (sic) is "paramName^seq^paramType" records joined by "|". The
//     request names no script, so these are the tenant's variables, returned in seq
//     order. A record without a name or with a seq that is not a number is a
//     malformed answer; a missing type is empty. The corrected spelling
//     paramSeqList is read too, should a server fix it.
//   - lineSummary is "lineId^numbers received^calls completed^last call time"
//     records joined by "|"; empty counts are 0, the time is kept as the vendor
//     wrote it (its format is not documented).
//   - None of these endpoints takes a page. queryAgentGroup's "records" reads like
//     one page of a paged result: when the body also carries "total" above the
//     records' count, AgentList.Total says so, so that callers can tell a cut list.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dialq/dialq/vendors"
)

// Script is one of the tenant's scripts (getBotence).
type Script struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Line is one of the tenant's calling lines (getCallLine).
type Line struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Param is one script variable (queryPlanParams): its name, its place in a
// record's params and its type as the vendor names it.
type Param struct {
	Name string `json:"name"`
	Seq  int    `json:"seq"`
	Type string `json:"type,omitempty"`
}

// Agent is one agent with its group (queryAgentGroup).
type Agent struct {
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name,omitempty"`
	AgentID   string `json:"agent_id"`
	AgentName string `json:"agent_name,omitempty"`
}

// AgentList is queryAgentGroup's answer.
type AgentList struct {
	Agents []Agent
	// Total is the body's "total" where the server sends one, else len(Agents).
	Total int
}

// LineStat is one line's share of a batch (getBatchSummaryGroupByLine).
type LineStat struct {
	LineID string `json:"line"`
	// Numbers were received on the line, Ended are completed calls.
	Numbers int `json:"numbers"`
	Ended   int `json:"ended"`
	// LastCall is the last call's time as the vendor wrote it; empty before one.
	LastCall string `json:"last_call"`
}

// LineSummary is a batch's numbers per line.
type LineSummary struct {
	BatchName string
	Lines     []LineStat
	// Raw is lineSummary as received.
	Raw string
}

// GetBotence lists the tenant's scripts.
func (c *Client) GetBotence(ctx context.Context) ([]Script, error) {
	const op = "getBotence"
	var b struct {
		List flexList `json:"botenceList"`
	}
	if err := c.read(ctx, op, nil, &b); err != nil {
		return nil, err
	}
	ids, names, err := idNames(b.List)
	if err != nil {
		return nil, malformed(op, "botenceList: %v", err)
	}
	out := make([]Script, len(ids))
	for i := range ids {
		out[i] = Script{ID: ids[i], Name: names[i]}
	}
	return out, nil
}

// GetCallLine lists the tenant's lines.
func (c *Client) GetCallLine(ctx context.Context) ([]Line, error) {
	const op = "getCallLine"
	var b struct {
		List flexList `json:"lineList"`
	}
	if err := c.read(ctx, op, nil, &b); err != nil {
		return nil, err
	}
	ids, names, err := idNames(b.List)
	if err != nil {
		return nil, malformed(op, "lineList: %v", err)
	}
	out := make([]Line, len(ids))
	for i := range ids {
		out[i] = Line{ID: ids[i], Name: names[i]}
	}
	return out, nil
}

// QueryPlanParams lists the tenant's script variables in seq order.
func (c *Client) QueryPlanParams(ctx context.Context) ([]Param, error) {
	const op = "queryPlanParams"
	var b struct {
		Sic   *flexList `json:"paramSeqLsit"`
		Fixed *flexList `json:"paramSeqList"`
	}
	if err := c.read(ctx, op, nil, &b); err != nil {
		return nil, err
	}
	list := b.Sic
	if list == nil {
		list = b.Fixed
	}
	if list == nil {
		return nil, malformed(op, "no paramSeqLsit in body")
	}
	var out []Param
	for i, rec := range list.entries() {
		f := strings.SplitN(rec, "^", 3)
		for len(f) < 3 {
			f = append(f, "")
		}
		name := strings.TrimSpace(f[0])
		seq, err := strconv.Atoi(strings.TrimSpace(f[1]))
		if name == "" || err != nil {
			return nil, malformed(op, "paramSeqLsit record %d: want paramName^seq^paramType", i+1)
		}
		out = append(out, Param{Name: name, Seq: seq, Type: strings.TrimSpace(f[2])})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// QueryAgentGroup lists the tenant's agents with their groups.
func (c *Client) QueryAgentGroup(ctx context.Context) (*AgentList, error) {
	const op = "queryAgentGroup"
	var b struct {
		Records *[]struct {
			GroupID   flexString `json:"agentGroupId"`
			GroupName flexString `json:"agentGroupName"`
			AgentID   flexString `json:"agentId"`
			AgentName flexString `json:"agentName"`
		} `json:"records"`
		Total *flexInt `json:"total"`
	}
	if err := c.read(ctx, op, nil, &b); err != nil {
		return nil, err
	}
	if b.Records == nil {
		return nil, malformed(op, "no records in body")
	}
	out := &AgentList{Agents: make([]Agent, 0, len(*b.Records))}
	for i, r := range *b.Records {
		a := Agent{GroupID: strings.TrimSpace(string(r.GroupID)), GroupName: string(r.GroupName),
			AgentID: strings.TrimSpace(string(r.AgentID)), AgentName: string(r.AgentName)}
		if a.GroupID == "" || a.AgentID == "" {
			return nil, malformed(op, "record %d has no agentGroupId or agentId", i+1)
		}
		out.Agents = append(out.Agents, a)
	}
	out.Total = len(out.Agents)
	if b.Total != nil && int(*b.Total) > out.Total {
		out.Total = int(*b.Total)
	}
	return out, nil
}

// GetBatchSummaryGroupByLine counts a batch's numbers per line.
func (c *Client) GetBatchSummaryGroupByLine(ctx context.Context, batchName string) (*LineSummary, error) {
	const op = "getBatchSummaryGroupByLine"
	if batchName == "" {
		return nil, &RequestError{Op: op, Field: "batchName", Reason: "missing"}
	}
	var b struct {
		BatchName flexString `json:"batchName"`
		Summary   *flexList  `json:"lineSummary"`
	}
	if err := c.read(ctx, op, map[string]any{"batchName": batchName}, &b); err != nil {
		return nil, err
	}
	if b.Summary == nil {
		return nil, malformed(op, "no lineSummary in body")
	}
	out := &LineSummary{BatchName: string(b.BatchName), Raw: b.Summary.raw}
	for i, rec := range b.Summary.entries() {
		f := strings.SplitN(rec, "^", 4)
		for len(f) < 4 {
			f = append(f, "")
		}
		st := LineStat{LineID: strings.TrimSpace(f[0]), LastCall: strings.TrimSpace(f[3])}
		var err1, err2 error
		st.Numbers, err1 = count(f[1])
		st.Ended, err2 = count(f[2])
		if st.LineID == "" || err1 != nil || err2 != nil {
			return nil, malformed(op, "lineSummary record %d: want lineId^totalNum^endCount^lastCallTime", i+1)
		}
		out.Lines = append(out.Lines, st)
	}
	return out, nil
}

// read calls op and decodes its body into v.
func (c *Client) read(ctx context.Context, op string, fields map[string]any, v any) error {
	if fields == nil {
		fields = map[string]any{}
	}
	raw, err := c.call(ctx, op, fields)
	if err != nil {
		return err
	}
	return decodeBody(op, raw, v)
}

func malformed(op, format string, args ...any) error {
	return &vendors.MalformedError{Vendor: Vendor, Op: op, Err: fmt.Errorf(format, args...)}
}

func count(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("not a count")
	}
	return n, nil
}

// flexList reads a "|"-joined string or a JSON array of such strings.
type flexList struct {
	raw   string
	items []string
}

func (l *flexList) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err == nil {
		l.raw = string(s)
		l.items = strings.Split(string(s), "|")
		return nil
	}
	var items []string
	if err := json.Unmarshal(b, &items); err != nil {
		return errors.New(`want a "|" list or an array of strings`)
	}
	l.raw = string(b)
	for _, it := range items {
		l.items = append(l.items, strings.Split(it, "|")...)
	}
	return nil
}

// entries are the list's non-blank items.
func (l *flexList) entries() []string {
	var out []string
	for _, it := range l.items {
		if strings.TrimSpace(it) != "" {
			out = append(out, it)
		}
	}
	return out
}

// idNames splits "id^name" or bare-id entries.
func idNames(l flexList) (ids, names []string, err error) {
	for i, e := range l.entries() {
		id, name, _ := strings.Cut(e, "^")
		id = strings.TrimSpace(id)
		if id == "" {
			return nil, nil, fmt.Errorf("entry %d has no id", i+1)
		}
		ids = append(ids, id)
		names = append(names, strings.TrimSpace(name))
	}
	return ids, names, nil
}
