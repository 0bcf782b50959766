package jobs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/dialq/dialq/vendors/registry"
	"github.com/dialq/dialq/vendors/speech"
	"github.com/dialq/dialq/vendors/yccall"
)

// matchRefusals maps a vendor's list of refused numbers back to record indexes,
// whatever spelling the vendor echoes (with or without the country code or the
// national prefix, with separators). Refused numbers that match no record are
// returned as unmatched: the caller must not count the call as delivered.
func matchRefusals(region string, recs []chunking.Record, code string, refused map[string]string) ([]refusal, []string) {
	if len(refused) == 0 {
		return nil, nil
	}
	cc := strconv.Itoa(phonenumbers.GetCountryCodeForRegion(region))
	byKey := make(map[string]int, len(recs))
	for i, r := range recs {
		byKey[phoneKey(cc, r.Phone)] = i
	}
	var out []refusal
	var unmatched []string
	for phone, reason := range refused {
		i, ok := byKey[phoneKey(cc, phone)]
		if !ok {
			unmatched = append(unmatched, phone)
			continue
		}
		if reason == "" {
			reason = "refused by the vendor"
		}
		out = append(out, refusal{idx: i, code: code, reason: reason})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].idx < out[b].idx })
	return out, unmatched
}

// phoneKey is a number's national significant digits: separators, an
// international prefix (+ or 00), the country code cc and a national prefix 0 are
// dropped, so every spelling of one number has one key.
func phoneKey(cc, phone string) string {
	b := make([]byte, 0, len(phone))
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	d := string(b)
	d = strings.TrimPrefix(d, "00")
	if strings.HasPrefix(d, cc) && len(d)-len(cc) >= 7 {
		d = d[len(cc):]
	}
	return strings.TrimLeft(d, "0")
}

// nxcloudCaller: one createandcall per call; every call makes a new vendor task
// and the vendor cannot tell a repeat, so nothing is ever resent blindly.
type nxcloudCaller struct{ c *nxcloud.Client }

func (nxcloudCaller) vendor() string                           { return registry.NXCloud }
func (nxcloudCaller) resendSafe(*partRun, chunking.Range) bool { return false }

func (n nxcloudCaller) send(ctx context.Context, p *partRun, r chunking.Range, recs []chunking.Record) (*sent, error) {
	c := p.campaign.(*campaign.NXCloud)
	name := campaign.PartName(c.TaskName, fmt.Sprintf("-%s-%d%s", p.nameID(), p.part, p.rangeSuffix(r)), 50)
	req := NXCloudRequest(c, name, p.m.ID, 1, recs)
	if _, err := n.c.CreateAndCall(ctx, req); err != nil {
		return nil, err
	}
	return &sent{taskRef: req.TaskName}, nil
}

// yccallCaller: one TaskCreat per call (a part is one vendor task of up to 10,000).
type yccallCaller struct{ c *yccall.Client }

func (yccallCaller) vendor() string                           { return registry.Yccall }
func (yccallCaller) resendSafe(*partRun, chunking.Range) bool { return false }

func (y yccallCaller) send(ctx context.Context, p *partRun, r chunking.Range, recs []chunking.Record) (*sent, error) {
	c := p.campaign.(*campaign.Yccall)
	name := campaign.PartName(c.TaskName, fmt.Sprintf("-%s-%d%s", p.nameID(), p.part, p.rangeSuffix(r)), 50)
	req := YccallRequest(c, name, p.m.ID, 1, recs, time.Now())
	resp, err := y.c.TaskCreate(ctx, req)
	if err != nil {
		return nil, err
	}
	refused := map[string]string{}
	for _, inv := range resp.Invalid {
		refused[inv.Phone] = inv.Reason
	}
	rf, unmatched := matchRefusals(p.m.Region, recs, "invaliddata", refused)
	return &sent{taskRef: resp.TaskID, refused: rf, unmatched: unmatched}, nil
}

// speechCaller: a part is one vendor task, created with its first call and filled
// by appends. The task id is checkpointed with the create, so a retry appends to
// the same task instead of creating another.
type speechCaller struct{ c *speech.Client }

const (
	speechTaskKey = "speech_task"
	// speechSeqKey counts continuation tasks: when a create's answer was lost, the
	// vendor's duplicate-name refusal proves it went through but does not give the
	// task id, so the rest of the part goes to a new task.
	speechSeqKey = "speech_seq"
)

func (speechCaller) vendor() string { return registry.Speech }

// resendSafe: a create is recognised by its unique task name; an append is not.
func (speechCaller) resendSafe(p *partRun, _ chunking.Range) bool {
	return p.extra[speechTaskKey] == ""
}

func (s speechCaller) send(ctx context.Context, p *partRun, r chunking.Range, recs []chunking.Record) (*sent, error) {
	c := p.campaign.(*campaign.Speech)
	customers := SpeechCustomers(c, p.m.ID, 1, recs)
	if task := p.extra[speechTaskKey]; task != "" {
		id, err := strconv.ParseInt(task, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("checkpointed speech task id %q: %w", task, err)
		}
		if err := s.c.AppendCustomers(ctx, &speech.AppendRequest{TaskID: id, Customers: customers}); err != nil {
			return nil, err
		}
		return &sent{taskRef: task}, nil
	}
	seq, _ := strconv.Atoi(p.extra[speechSeqKey])
	suffix := fmt.Sprintf("-%s-%d", p.nameID(), p.part)
	if seq > 0 {
		suffix += fmt.Sprintf("-c%d", seq)
	}
	req := SpeechCreateRequest(c, campaign.PartName(c.TaskName, suffix, speech.MaxTaskNameLen), customers)
	resp, err := s.c.CreateTask(ctx, req)
	if speech.IsDuplicateName(err) {
		// Our own earlier create went through: the name carries a hash of the whole
		// batch id, the part and the continuation number, so no other batch of
		// ours can hold it (the speech API has no task lookup by name to check).
		// Its id is lost, so later calls start a continuation task.
		return &sent{reconciled: true, taskRef: req.TaskName,
			extra: map[string]string{speechTaskKey: "", speechSeqKey: strconv.Itoa(seq + 1)}}, nil
	}
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(resp.TaskID, 10)
	return &sent{taskRef: id, extra: map[string]string{speechTaskKey: id}}, nil
}

// flashaiCaller: one addPlan per call with a batch name unique to batch, part and
// range. A repeat is refused with 101007; the name is only believed to be our own
// earlier attempt once getBatchPlanList shows the vendor's batch holds this call's
// numbers, so resending is always safe.
type flashaiCaller struct {
	c      *flashai.Client
	notify FlashAINotify
}

func (flashaiCaller) vendor() string                           { return registry.FlashAI }
func (flashaiCaller) resendSafe(*partRun, chunking.Range) bool { return true }

func flashaiBatchName(p *partRun, r chunking.Range) string {
	c := p.campaign.(*campaign.FlashAI)
	return fmt.Sprintf("%s_%s_%d%s", c.BatchNamePrefix, p.nameID(), p.part, p.rangeSuffix(r))
}

func (f flashaiCaller) send(ctx context.Context, p *partRun, r chunking.Range, recs []chunking.Record) (*sent, error) {
	c := p.campaign.(*campaign.FlashAI)
	list, err := chunking.EncodeMobileList(recs)
	if err != nil {
		return nil, invalidRecords{err}
	}
	name := flashaiBatchName(p, r)
	notifyURL := c.NotifyURL
	if f.notify != nil {
		// dialq's own callback (results) replaces the campaign's notify_url.
		if notifyURL, err = f.notify(ctx, p.m, p.part, name); err != nil {
			return nil, err
		}
	}
	resp, err := f.add(ctx, c, name, list, notifyURL)
	if flashai.IsDuplicateName(err) {
		return f.verify(ctx, p, name, recs)
	}
	if err != nil {
		return nil, err
	}
	refused := map[string]string{}
	for _, fm := range resp.Failed {
		refused[fm.Phone] = fm.Reason
	}
	rf, unmatched := matchRefusals(p.m.Region, recs, "failMobileInfo", refused)
	return &sent{taskRef: name, refused: rf, unmatched: unmatched}, nil
}

// verify checks, after a 101007, that the vendor's batch of that name holds every
// number of this call: only then did our earlier attempt arrive. The name carries a
// hash of the whole batch id, the part and the range, so another batch of ours
// cannot hold it; the check guards against anyone else in the tenant.
func (f flashaiCaller) verify(ctx context.Context, p *partRun, name string, recs []chunking.Record) (*sent, error) {
	cc := strconv.Itoa(phonenumbers.GetCountryCodeForRegion(p.m.Region))
	held := map[string]bool{}
	for page := 1; ; page++ {
		resp, err := f.c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: name, Page: page, PageNum: flashai.MaxPageNum})
		if err != nil {
			return nil, fmt.Errorf("verify duplicate batch name %s: %w", name, err)
		}
		for _, m := range resp.Mobiles {
			held[phoneKey(cc, m.Phone)] = true
		}
		if page >= resp.TotalPage || len(resp.Mobiles) == 0 {
			break
		}
	}
	missing := 0
	for _, r := range recs {
		if !held[phoneKey(cc, r.Phone)] {
			missing++
		}
	}
	if missing > 0 {
		return nil, &nameTaken{name: name, missing: missing, total: len(recs)}
	}
	return &sent{reconciled: true, taskRef: name}, nil
}

// nameTaken is a vendor-side name held by something that is not our earlier
// attempt: the call cannot go out under it.
type nameTaken struct {
	name           string
	missing, total int
}

func (e *nameTaken) Error() string {
	return fmt.Sprintf("FlashAI batch name %s is taken by a batch that does not hold %d of this call's %d numbers", e.name, e.missing, e.total)
}
func (e *nameTaken) Class() vendors.Class { return vendors.Permanent }
func (e *nameTaken) VendorCode() string   { return "101007" }
