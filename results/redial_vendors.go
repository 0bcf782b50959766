package results

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/nxcloud"
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
func redialName(base, sep string, m *batch.Manifest, pl RedialPayload, max int) string {
	return campaign.PartName(base, fmt.Sprintf("%s%s%s%d%sr%d", sep, jobs.NameID(m.ID), sep, pl.Part, sep, pl.Attempt), max)
}

func (rd *Redialer) call(ctx context.Context, m *batch.Manifest, c campaign.Campaign, pl RedialPayload, recs []chunking.Record) (redialOut, error) {
	switch c := c.(type) {
	case *campaign.FlashAI:
		// As the first send: <prefix>_<hash>_<part>, the attempt after it.
		name := fmt.Sprintf("%s_%s_%d_r%d", c.BatchNamePrefix, jobs.NameID(m.ID), pl.Part, pl.Attempt)
		refused, err := rd.send(ctx, m, c, pl.Part, name, recs)
		return redialOut{ref: name, refused: refused}, err
	case *campaign.NXCloud:
		if rd.NXCloud == nil {
			return redialOut{}, errors.New("this worker has no NXCloud client")
		}
		name := redialName(c.TaskName, "-", m, pl, 50)
		return rd.once(ctx, m, pl, name, func() (redialOut, error) {
			_, err := rd.NXCloud.CreateAndCall(ctx, jobs.NXCloudRequest(c, name, m.ID, pl.Attempt, recs))
			return redialOut{ref: name}, err
		})
	case *campaign.Yccall:
		if rd.Yccall == nil {
			return redialOut{}, errors.New("this worker has no Yccall client")
		}
		name := redialName(c.TaskName, "-", m, pl, 50)
		return rd.once(ctx, m, pl, name, func() (redialOut, error) {
			resp, err := rd.Yccall.TaskCreate(ctx, jobs.YccallRequest(c, name, m.ID, pl.Attempt, recs, rd.Results.now()))
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

// once makes a call the vendor cannot recognise when repeated (NXCloud, Yccall):
// a durable in-flight mark first; a run that finds the mark (an earlier one died after
// it, or its answer was lost) does not call again. A failure that proves the
// vendor took nothing clears the mark so that the call is tried again.
func (rd *Redialer) once(ctx context.Context, m *batch.Manifest, pl RedialPayload, name string, fn func() (redialOut, error)) (redialOut, error) {
	key, f := hashKey(m.ID), redialField(pl.Part, pl.Attempt)+":call"
	if err := rd.wait(ctx, m.Vendor); err != nil {
		return redialOut{}, err
	}
	// Made durable like the first send's in-flight marks (WAITAOF / WAIT where the
	// worker was configured with them) before the call.
	var set *redis.BoolCmd
	if err := rd.Batches.Confirm(ctx, key, func(p redis.Pipeliner) { set = p.HSetNX(ctx, key, f, "inflight") }); err != nil {
		return redialOut{}, err
	}
	if !set.Val() {
		return redialOut{ref: name}, fmt.Errorf("%w: the call of %s began before and its answer was never recorded", errUncertain, name)
	}
	out, err := fn()
	if err == nil {
		return out, nil
	}
	if vendors.ClassOf(err) == vendors.Ambiguous {
		return redialOut{ref: name}, fmt.Errorf("%w: %v", errUncertain, err)
	}
	if derr := rd.Results.rdb.HDel(context.WithoutCancel(ctx), key, f).Err(); derr != nil {
		return out, errors.Join(err, derr)
	}
	return out, err
}

// speechChunk is how many customers a speech redial puts in one task.
func speechChunk(m *batch.Manifest) int {
	if n := m.Profile.CallSize; n > 0 && n <= 1000 {
		return n
	}
	return 1000
}

// sendSpeech creates one speech task per call-sized chunk (no appends: a create
// is recognised by its name when repeated, an append is not), each checkpointed
// once taken, so a retried redial resends only what was not recorded.
func (rd *Redialer) sendSpeech(ctx context.Context, m *batch.Manifest, c *campaign.Speech, pl RedialPayload, recs []chunking.Record) (redialOut, error) {
	size := speechChunk(m)
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
		resp, err := rd.Speech.CreateTask(ctx, jobs.SpeechCreateRequest(c, name, jobs.SpeechCustomers(c, m.ID, pl.Attempt, recs[lo:hi])))
		ref := name
		switch {
		case speech.IsDuplicateName(err):
			// Our own earlier create: the name is unique to batch, part, attempt and chunk.
		case err != nil:
			return redialOut{}, err
		default:
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
func (rd *Redialer) send(ctx context.Context, m *batch.Manifest, fc *campaign.FlashAI, part int, name string, recs []chunking.Record) (map[string]string, error) {
	list, err := chunking.EncodeMobileList(recs)
	if err != nil {
		return nil, err
	}
	if rd.Limiter != nil {
		if _, err := rd.Limiter.Wait(ctx, chunking.FlashAI, time.Minute); err != nil {
			return nil, err
		}
	}
	notify := fc.NotifyURL
	if rd.Notify != nil {
		if notify, err = rd.Notify(ctx, m, part, name); err != nil {
			return nil, err
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
			if _, err := rd.Limiter.Wait(ctx, chunking.FlashAI, time.Minute); err != nil {
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
