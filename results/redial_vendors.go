package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/dialq/dialq/vendors/registry"
	"github.com/dialq/dialq/vendors/speech"
	"github.com/dialq/dialq/vendors/yccall"
)

// A redial's vendor call, per vendor. Names carry the attempt (r<k>) beside the
// batch hash and the part, within each vendor's limit (FlashAI's batch name as the
// first send's, NXCloud and Yccall 50 characters, speech speech.MaxTaskNameLen);
// per-number ids are the attempt's (jobs.NumberID).

// NXCloudClient, YccallClient and SpeechClient are the calls a redial makes.
type (
	NXCloudClient interface {
		CreateAndCall(ctx context.Context, req *nxcloud.CreateAndCallRequest) (*nxcloud.CreateAndCallResponse, error)
	}
	YccallClient interface {
		TaskCreate(ctx context.Context, req *yccall.TaskCreateRequest) (*yccall.TaskCreateResponse, error)
	}
	SpeechClient interface {
		CreateTask(ctx context.Context, req *speech.CreateTaskRequest) (*speech.CreateTaskResponse, error)
	}
)

// errUncertain: the redial's call may have reached the vendor, which cannot tell
// a repeat: it is never resent.
var errUncertain = errors.New("redial outcome unknown")

// redialOut is what the vendor took: its task reference(s) (speech: one per
// task, joined by newlines) and the numbers it refused, as it spelt them.
type redialOut struct {
	ref     string
	refused map[string]string
}

// redialName is the follow-up task's name: the first send's suffix with r<k>.
func redialName(base, sep string, m *ledger.Manifest, pl RedialPayload, max int) string {
	return campaign.PartName(base, fmt.Sprintf("%s%s%s%d%sr%d", sep, jobs.NameID(m.ID), sep, pl.Part, sep, pl.Attempt), max)
}

func (rd *Redialer) call(ctx context.Context, m *ledger.Manifest, c campaign.Campaign, pl RedialPayload, recs []chunking.Record) (redialOut, error) {
	switch c := c.(type) {
	case *campaign.FlashAI:
		// As the first send: <prefix>_<hash>_<part>, the attempt after it.
		name := fmt.Sprintf("%s_%s_%d_r%d", c.BatchNamePrefix, jobs.NameID(m.ID), pl.Part, pl.Attempt)
		refused, err := rd.send(ctx, m, c, pl, name, recs)
		return redialOut{ref: name, refused: refused}, err
	case *campaign.NXCloud:
		if rd.NXCloud == nil {
			return redialOut{}, errors.New("this worker has no NXCloud client")
		}
		return rd.once(ctx, m, c, pl, c.TaskName, recs, func(name string, part []chunking.Record) (redialOut, error) {
			_, err := rd.NXCloud.CreateAndCall(ctx, jobs.NXCloudRequest(c, name, m.ID, pl.Attempt, part))
			return redialOut{ref: name}, err
		})
	case *campaign.Yccall:
		if rd.Yccall == nil {
			return redialOut{}, errors.New("this worker has no Yccall client")
		}
		return rd.once(ctx, m, c, pl, c.TaskName, recs, func(name string, part []chunking.Record) (redialOut, error) {
			resp, err := rd.Yccall.TaskCreate(ctx, jobs.YccallRequest(c, name, m.ID, pl.Attempt, part, rd.Results.now()))
			if err != nil {
				return redialOut{ref: name}, err
			}
			out := redialOut{ref: resp.TaskID, refused: map[string]string{}}
			for _, inv := range resp.Invalid {
				out.refused[inv.Phone] = inv.Reason
			}
			return out, nil
		})
	case *campaign.Speech:
		if rd.Speech == nil {
			return redialOut{}, errors.New("this worker has no speech client")
		}
		return rd.sendSpeech(ctx, m, c, pl, recs)
	}
	return redialOut{}, fmt.Errorf("no redial for vendor %s", m.Vendor)
}

func (rd *Redialer) wait(ctx context.Context, vendor string) error {
	if rd.Limiter == nil {
		return nil
	}
	_, err := rd.Limiter.Wait(ctx, vendor, time.Minute)
	return err
}

// chunkName is the name of call i of a redial: the first as before, the others
// numbered (as speech's chunks).
func chunkName(base string, m *ledger.Manifest, pl RedialPayload, i, limit int) string {
	if i == 0 {
		return redialName(base, "-", m, pl, limit)
	}
	return campaign.PartName(base, fmt.Sprintf("-%s-%d-r%d-%d", jobs.NameID(m.ID), pl.Part, pl.Attempt, i+1), limit)
}

// once makes calls the vendor cannot recognise when repeated (NXCloud, Yccall),
// one per chunk that fits the quotas: each with a durable in-flight mark written
// by the guard (which checks the batch's control and takes the quotas); a run that
// finds a chunk's mark unfinished (an earlier one died after it, or its answer was
// lost) does not call again. A failure that proves the vendor took nothing gives
// everything back and clears the mark, so that the call is tried again. A chunk
// sent is noted done with its reference and refusals, so a retried redial sends
// only the chunks not yet sent.
func (rd *Redialer) once(ctx context.Context, m *ledger.Manifest, c campaign.Campaign, pl RedialPayload, base string, recs []chunking.Record,
	fn func(name string, part []chunking.Record) (redialOut, error)) (redialOut, error) {
	size := rd.redialChunk(m, c, 0)
	all := redialOut{refused: map[string]string{}}
	var refs []string
	for i, lo := 0, 0; lo < len(recs); i, lo = i+1, lo+size {
		hi := min(lo+size, len(recs))
		f, name := chunkField(pl, i), chunkName(base, m, pl, i, 50)
		v, err := rd.Results.rdb.HGet(ctx, hashKey(m.ID), f).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return redialOut{}, err
		}
		if done, ok := strings.CutPrefix(v, "done:"); ok {
			ref, js, _ := strings.Cut(done, "\n")
			var refused map[string]string
			_ = json.Unmarshal([]byte(js), &refused)
			maps.Copy(all.refused, refused)
			refs = append(refs, ref)
			continue
		}
		if err := rd.wait(ctx, m.Vendor); err != nil {
			return redialOut{}, err
		}
		h, err := rd.guard(ctx, m, c, f, "inflight", hi-lo, true)
		if errors.Is(err, errUncertain) {
			return redialOut{ref: name}, fmt.Errorf("%w (%s)", err, name)
		}
		if err != nil {
			return redialOut{}, err
		}
		out, err := fn(name, recs[lo:hi])
		if err != nil && vendors.ClassOf(err) != vendors.Ambiguous {
			return out, errors.Join(err, h.refused(ctx, rd, m.ID))
		}
		h.finish(ctx, rd)
		if err != nil {
			return redialOut{ref: name}, fmt.Errorf("%w: %v", errUncertain, err)
		}
		js, _ := json.Marshal(out.refused)
		if err := rd.Results.rdb.HSet(ctx, hashKey(m.ID), f, "done:"+out.ref+"\n"+string(js)).Err(); err != nil {
			return redialOut{}, err
		}
		maps.Copy(all.refused, out.refused)
		refs = append(refs, out.ref)
	}
	all.ref = strings.Join(refs, "\n")
	return all, nil
}

// speechChunk is how many customers a speech redial puts in one task.
func speechChunk(m *ledger.Manifest) int {
	if n := m.Profile.CallSize; n > 0 && n <= 1000 {
		return n
	}
	return 1000
}

// sendSpeech creates one speech task per call-sized chunk (no appends: a create
// is recognised by its name when repeated, an append is not), each checkpointed
// once taken, so a retried redial resends only what was not recorded.
func (rd *Redialer) sendSpeech(ctx context.Context, m *ledger.Manifest, c *campaign.Speech, pl RedialPayload, recs []chunking.Record) (redialOut, error) {
	size := rd.redialChunk(m, c, speechChunk(m))
	var refs []string
	for i, lo := 0, 0; lo < len(recs); i, lo = i+1, lo+size {
		hi := min(lo+size, len(recs))
		f := redialField(pl.Part, pl.Attempt) + ":c" + strconv.Itoa(i)
		v, err := rd.Results.rdb.HGet(ctx, hashKey(m.ID), f).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return redialOut{}, err
		}
		if ref, ok := strings.CutPrefix(v, "done:"); ok {
			refs = append(refs, ref)
			continue
		}
		name := redialName(c.TaskName, "-", m, pl, speech.MaxTaskNameLen)
		if i > 0 {
			name = campaign.PartName(c.TaskName, fmt.Sprintf("-%s-%d-r%d-%d", jobs.NameID(m.ID), pl.Part, pl.Attempt, i+1), speech.MaxTaskNameLen)
		}
		if err := rd.wait(ctx, m.Vendor); err != nil {
			return redialOut{}, err
		}
		// A create is recognised when repeated: a mark found does not stop it.
		h, err := rd.guard(ctx, m, c, f+":sending", "1", hi-lo, false)
		if err != nil {
			return redialOut{}, err
		}
		resp, err := rd.Speech.CreateTask(ctx, jobs.SpeechCreateRequest(c, name, jobs.SpeechCustomers(c, m.ID, pl.Attempt, recs[lo:hi])))
		ref := name
		switch {
		case speech.IsDuplicateName(err):
			// Our own earlier create: the name is unique to batch, part, attempt and chunk.
			h.finish(ctx, rd)
		case err != nil && vendors.ClassOf(err) != vendors.Ambiguous:
			return redialOut{}, errors.Join(err, h.refused(ctx, rd, m.ID))
		case err != nil:
			h.finish(ctx, rd)
			return redialOut{}, err
		default:
			h.finish(ctx, rd)
			ref = strconv.FormatInt(resp.TaskID, 10)
		}
		if err := rd.Results.rdb.HSet(ctx, hashKey(m.ID), f, "done:"+ref).Err(); err != nil {
			return redialOut{}, err
		}
		refs = append(refs, ref)
	}
	return redialOut{ref: strings.Join(refs, "\n")}, nil
}

// matchRefused maps the vendor's refused numbers to the part's records; a refusal
// matching none is logged (masked) and left out.
func matchRefused(region string, sel []chunking.Record, idx []int, refused map[string]string, log *logrus.Entry) map[int]string {
	if len(refused) == 0 {
		return nil
	}
	cc := strconv.Itoa(phonenumbers.GetCountryCodeForRegion(region))
	byKey := make(map[string]int, len(sel))
	for i, r := range sel {
		byKey[phoneKey(cc, r.Phone)] = idx[i]
	}
	out := make(map[int]string, len(refused))
	for ph, why := range refused {
		x, ok := byKey[phoneKey(cc, ph)]
		if !ok {
			log.WithField("phone", redact.Phone(ph)).Warn("vendor refused a number the redial did not send")
			continue
		}
		if why == "" {
			why = "refused by the vendor"
		}
		out[x] = why
	}
	return out
}

// redialRefused reads the numbers attempt k of part had refused, with the reasons.
func (s *Store) redialRefused(ctx context.Context, id string, part, k int) (map[int]string, error) {
	h, err := s.rdb.HGetAll(ctx, refusedKey(id, part, k)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(h))
	for f, v := range h {
		if x, err := strconv.Atoi(f); err == nil {
			out[x] = v
		}
	}
	return out, nil
}

// send makes the redial's FlashAI plan and returns the numbers it refused
// (failMobileInfo); a 101007 is our earlier attempt only if the plan holds every
// number.
func (rd *Redialer) send(ctx context.Context, m *ledger.Manifest, fc *campaign.FlashAI, pl RedialPayload, name string, recs []chunking.Record) (map[string]string, error) {
	part := pl.Part
	list, err := chunking.EncodeMobileList(recs)
	if err != nil {
		return nil, err
	}
	if rd.Limiter != nil {
		if _, err := rd.Limiter.Wait(ctx, registry.FlashAI, time.Minute); err != nil {
			return nil, err
		}
	}
	// The plan is recognised by its name when repeated: a mark found does not stop
	// it. It is one plan (the polls read it by name), so it is not split to fit.
	if most := rd.redialChunk(m, fc, 0); len(recs) > most {
		rd.log().WithFields(logrus.Fields{"batch": m.ID, "part": part, "attempt": pl.Attempt}).Warnf(
			"FlashAI redial of %d numbers is larger than the quota's smallest window or the daily cap (%d): it waits until they are raised", len(recs), most)
	}
	h, err := rd.guard(ctx, m, fc, chunkField(pl, 0), "sending", len(recs), false)
	if err != nil {
		return nil, err
	}
	notify := fc.NotifyURL
	if rd.Notify != nil {
		if notify, err = rd.Notify(ctx, m, part, name); err != nil {
			return nil, errors.Join(err, h.refused(ctx, rd, m.ID))
		}
	}
	var resp *flashai.AddPlanResponse
	if a := fc.Agent; a != nil {
		// An agent campaign's redial goes to its agent, as its first send did.
		resp, err = rd.Client.AddAgentPlan(ctx, &flashai.AddAgentPlanRequest{
			BatchName: name, AgentGroupID: a.GroupID, AgentID: a.AgentID, AddType: a.AddType,
			CallType: a.CallTypeString(), NotifyURL: notify, MobileList: list,
		})
	} else {
		resp, err = rd.Client.AddPlan(ctx, &flashai.AddPlanRequest{
			UserID: fc.UserID, BatchName: name, BotenceID: fc.BotenceID, CallDate: fc.CallDate, CallHours: fc.CallHours,
			Clear: fc.Clear == 1, LineIDs: fc.LineIDs, Recall: fc.Recall == 1, RecallParams: fc.RecallParams,
			NotifyURL: notify, NotifyBatchURL: fc.NotifyBatchURL, MobileList: list,
		})
	}
	if err != nil && !flashai.IsDuplicateName(err) && vendors.ClassOf(err) != vendors.Ambiguous {
		return nil, errors.Join(err, h.refused(ctx, rd, m.ID))
	}
	h.finish(ctx, rd)
	switch {
	case err == nil:
		refused := map[string]string{}
		for _, fm := range resp.Failed {
			refused[fm.Phone] = fm.Reason
		}
		return refused, nil
	case !flashai.IsDuplicateName(err):
		return nil, err
	}
	held := map[string]bool{}
	for page := 1; ; page++ {
		if rd.Limiter != nil {
			if _, err := rd.Limiter.Wait(ctx, registry.FlashAI, time.Minute); err != nil {
				return nil, err
			}
		}
		resp, err := rd.Client.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: name, Page: page, PageNum: flashai.MaxPageNum})
		if err != nil {
			return nil, err
		}
		for _, mb := range resp.Mobiles {
			held[mb.Phone] = true
		}
		if page >= resp.TotalPage || len(resp.Mobiles) == 0 {
			break
		}
	}
	for _, r := range recs {
		if !held[r.Phone] {
			return nil, fmt.Errorf("FlashAI batch name %s is taken by a plan that does not hold this redial's numbers", name)
		}
	}
	// Our earlier call's answer was lost: the numbers it refused are not known
	// (the plan holds every number, so it refused none).
	return nil, nil
}
