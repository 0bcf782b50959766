package fakevendor

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/dialq/dialq/vendors/flashai"
)

// The rest of seed 004 in the fake flashai: the tenant's scripts, variables, lines
// and agents, the per-line summary, and addAgentPlan. Choices beyond the sheet:
//
//   - The tenant is configuration (SetFlashAITenant, POST /_admin/flashai/tenant),
//     kept across Reset like the faults; until one is set, DefaultFlashAITenant.
//   - getBotence and getCallLine write entries as "id^name", or as bare ids when the
//     tenant says BareIDs (the seed allows both readings).
//   - addPlan does not check botenceId or lineIds against the tenant: the seed names
//     no code for it, and dialq checks them at enqueue.
//   - addAgentPlan checks what addPlan checks of the batch name and mobileList
//     (1010, 101008, 101007, failMobileInfo) and counts in the same ledger; an
//     agentGroupId or agentId the tenant lacks gets 101001 "operation failed", as
//     does an agent outside the named group; a callType other than 0 or 1 gets 1010.
//     Its plan answers pause, restart, stop, delete, summary and list as any plan.
//   - getBatchSummaryGroupByLine spreads a plan's numbers round robin over its
//     lineIds (the tenant's first line when it named none; none for an agent plan).
//     The fake never dials, so calls completed are 0 and the last call time empty.

// FlashAITenant is what the fake's tenant has.
type FlashAITenant struct {
	Scripts []FlashAIEntry `json:"scripts"`
	Params  []FlashAIParam `json:"params"`
	Lines   []FlashAIEntry `json:"lines"`
	Agents  []FlashAIAgent `json:"agents"`
	// BareIDs writes script and line entries as bare ids.
	BareIDs bool `json:"bare_ids,omitempty"`
}

// FlashAIEntry is a script or a line.
type FlashAIEntry struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// FlashAIParam is a script variable.
type FlashAIParam struct {
	Name string `json:"name"`
	Seq  int    `json:"seq"`
	Type string `json:"type"`
}

// FlashAIAgent is an agent in a group.
type FlashAIAgent struct {
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name"`
	AgentID   string `json:"agent_id"`
	AgentName string `json:"agent_name"`
}

// DefaultFlashAITenant is the demo tenant: examples/flashai.json's script 2873 and
// line 101, three variables, two groups of agents.
func DefaultFlashAITenant() FlashAITenant {
	return FlashAITenant{
		Scripts: []FlashAIEntry{{"2873", "Spring greeting"}, {"2874", "Payment reminder"}},
		Params:  []FlashAIParam{{"name", 1, "string"}, {"amount", 2, "number"}, {"due", 3, "date"}},
		Lines:   []FlashAIEntry{{"101", "Shanghai 01"}, {"102", "Beijing 02"}},
		Agents: []FlashAIAgent{
			{"G1", "Sales", "A1", "Li Lei"}, {"G1", "Sales", "A2", "Han Meimei"},
			{"G2", "Support", "A3", "Wang Fang"},
		},
	}
}

type flashaiTenantState struct {
	mu     sync.Mutex
	tenant *FlashAITenant
}

// SetFlashAITenant replaces the fake flashai's tenant.
func (s *Server) SetFlashAITenant(t FlashAITenant) {
	s.faTenant.mu.Lock()
	s.faTenant.tenant = &t
	s.faTenant.mu.Unlock()
}

// FlashAITenant returns the tenant in force.
func (s *Server) FlashAITenant() FlashAITenant {
	s.faTenant.mu.Lock()
	defer s.faTenant.mu.Unlock()
	if s.faTenant.tenant == nil {
		return DefaultFlashAITenant()
	}
	return *s.faTenant.tenant
}

func (s *Server) handleFlashAITenant(w http.ResponseWriter, r *http.Request) {
	var t FlashAITenant
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		http.Error(w, "flashai tenant: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.SetFlashAITenant(t)
	writeJSON(w, t)
}

// mountFlashAISeed mounts the discovery endpoints and addAgentPlan under /flashai.
func (s *Server) mountFlashAISeed() {
	for path, h := range map[string]func(map[string]string) flashaiReply{
		"/getBotence":                 s.flashaiBotence,
		"/queryPlanParams":            s.flashaiParams,
		"/getCallLine":                s.flashaiLines,
		"/queryAgentGroup":            s.flashaiAgents,
		"/getBatchSummaryGroupByLine": s.flashaiLineSummary,
		"/addAgentPlan":               s.flashaiAddAgentPlan,
	} {
		s.handle(FlashAI, path, s.flashaiEndpoint(h))
	}
	s.mux.HandleFunc("POST /_admin/flashai/tenant", s.handleFlashAITenant)
}

func entries(es []FlashAIEntry, bare bool) string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
		if !bare {
			out[i] += "^" + e.Name
		}
	}
	return strings.Join(out, "|")
}

func (s *Server) flashaiBotence(map[string]string) flashaiReply {
	t := s.FlashAITenant()
	return flashaiReply{body: map[string]any{"botenceList": entries(t.Scripts, t.BareIDs)}}
}

func (s *Server) flashaiLines(map[string]string) flashaiReply {
	t := s.FlashAITenant()
	return flashaiReply{body: map[string]any{"lineList": entries(t.Lines, t.BareIDs)}}
}

func (s *Server) flashaiParams(map[string]string) flashaiReply {
	t := s.FlashAITenant()
	out := make([]string, len(t.Params))
	for i, p := range t.Params {
		out[i] = p.Name + "^" + strconv.Itoa(p.Seq) + "^" + p.Type
	}
	return flashaiReply{body: map[string]any{"paramSeqLsit": strings.Join(out, "|")}}
}

func (s *Server) flashaiAgents(map[string]string) flashaiReply {
	t := s.FlashAITenant()
	recs := make([]map[string]string, len(t.Agents))
	for i, a := range t.Agents {
		recs[i] = map[string]string{"agentGroupId": a.GroupID, "agentGroupName": a.GroupName,
			"agentId": a.AgentID, "agentName": a.AgentName}
	}
	return flashaiReply{body: map[string]any{"records": recs}}
}

func (s *Server) flashaiLineSummary(p map[string]string) flashaiReply {
	t := s.FlashAITenant()
	return s.flashaiPlanFor(p["batchName"], flashai.CodeNoResult, func(pl *flashaiPlan) flashaiReply {
		lines := trimmedNumbers(pl.lines, ",")
		if len(lines) == 0 && !pl.agent && len(t.Lines) > 0 {
			lines = []string{t.Lines[0].ID}
		}
		var recs []string
		for i, l := range lines {
			n := len(pl.records) / len(lines)
			if i < len(pl.records)%len(lines) {
				n++
			}
			recs = append(recs, l+"^"+strconv.Itoa(n)+"^0^")
		}
		return flashaiReply{body: map[string]any{"batchName": p["batchName"], "lineSummary": strings.Join(recs, "|")}}
	})
}

func (s *Server) flashaiAddAgentPlan(p map[string]string) flashaiReply {
	illegal := func(format string, args ...any) flashaiReply {
		return flashaiFail(flashai.CodeIllegalParams, format, args...)
	}
	switch {
	case p["batchName"] == "":
		return illegal("batchName missing")
	case p["agentGroupId"] == "":
		return illegal("agentGroupId missing")
	case p["agentId"] == "":
		return illegal("agentId missing")
	case p["addType"] == "":
		return illegal("addType missing")
	case p["callType"] != "" && !flashaiFlag(p["callType"]):
		return illegal("callType must be 0 or 1")
	}
	group, agent := false, false
	for _, a := range s.FlashAITenant().Agents {
		if a.GroupID == p["agentGroupId"] {
			group = true
			agent = agent || a.AgentID == p["agentId"]
		}
	}
	if !group {
		return flashaiFail(flashai.CodeOperationFailed, "agent group not found")
	}
	if !agent {
		return flashaiFail(flashai.CodeOperationFailed, "agent not found in group")
	}
	accepted, nums, fails, refused := s.flashaiReadList(p["mobileList"])
	if refused != nil {
		return *refused
	}
	st := &s.flashai
	st.mu.Lock()
	if _, dup := st.plans[p["batchName"]]; dup {
		st.mu.Unlock()
		return flashaiFail(flashai.CodeDuplicateBatchName, "batch name already exists")
	}
	st.plans[p["batchName"]] = &flashaiPlan{status: "running", records: accepted, agent: true}
	st.mu.Unlock()
	s.addTask(FlashAI)
	s.accept(FlashAI, nums)
	return flashaiReply{body: map[string]any{
		"rightCount": len(accepted), "failCount": len(fails), "failMobileInfo": strings.Join(fails, ","),
	}}
}

// flashaiScreen refuses, for addPlan and addAgentPlan, numbers that are malformed,
// repeated in the list or set to be refused; fails are "phone:reason" items.
// flashaiReadList is what addPlan and addAgentPlan check of a mobileList alike:
// its encoding, the per-call limit and poisoned numbers; then it screens the
// records (accepted, their numbers, the failMobileInfo entries). A non-nil reply
// refuses the whole call.
func (s *Server) flashaiReadList(mobileList string) (accepted []flashaiRecord, nums, fails []string, refused *flashaiReply) {
	refuse := func(r flashaiReply) ([]flashaiRecord, []string, []string, *flashaiReply) { return nil, nil, nil, &r }
	records, err := flashaiParseMobileList(mobileList)
	if err != nil {
		return refuse(flashaiFail(flashai.CodeIllegalParams, "mobileList: %v", err))
	}
	maxPerCall := s.cfg.FlashAI.MaxPerCall
	if maxPerCall <= 0 {
		maxPerCall = flashaiDefaultMaxPerCall
	}
	if len(records) > maxPerCall {
		return refuse(flashaiFail(flashai.CodeTooManyNumbers, "too many numbers: %d over %d", len(records), maxPerCall))
	}
	phones := make([]string, len(records))
	for i, rec := range records {
		phones[i] = rec.phone
	}
	if _, bad := s.anyPoisoned(phones); bad {
		return refuse(flashaiFail(flashai.CodeIllegalParams, "illegal parameters in mobileList"))
	}
	accepted, nums, fails = s.flashaiScreen(records)
	return accepted, nums, fails, nil
}

func (s *Server) flashaiScreen(records []flashaiRecord) (accepted []flashaiRecord, nums, fails []string) {
	seen := map[string]bool{}
	for _, rec := range records {
		reason := ""
		if !flashaiPhone(rec.phone) {
			reason = "invalid phone"
		} else if seen[rec.phone] {
			reason = "duplicate phone"
		} else if why, refused := s.refusal(rec.phone); refused {
			reason = why
		}
		seen[rec.phone] = true
		if reason != "" {
			// "," separates items: keep it out of the phone so that the list parses.
			fails = append(fails, strings.ReplaceAll(rec.phone, ",", " ")+":"+reason)
			continue
		}
		accepted = append(accepted, rec)
		nums = append(nums, rec.phone)
	}
	return accepted, nums, fails
}
