package ledgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/vendors/registry"
)

// t0 is a creation time that survives the manifest's millisecond precision.
var t0 = time.UnixMilli(1_700_000_000_123).UTC()

type fixture struct {
	ctx context.Context
	s   *Store
	db  *testredis.DB
}

func setup(t *testing.T) *fixture {
	t.Helper()
	db := testredis.New(t)
	return &fixture{ctx: context.Background(), s: NewStore(db.Client), db: db}
}

// records makes n records of part p, every other one with all optional fields.
func records(p, n int) []chunking.Record {
	recs := make([]chunking.Record, n)
	for i := range recs {
		recs[i] = chunking.Record{Line: int64(p*1000 + i + 2), Phone: fmt.Sprintf("138%04d%04d", p, i)}
		if i%2 == 0 {
			recs[i].Name, recs[i].CustomerID, recs[i].Attach, recs[i].Company = "张三", fmt.Sprintf("c-%d", i), `{"k":1}`, "ACME"
			recs[i].Params = []string{"a", "", "c"}
		}
	}
	return recs
}

// manifest describes a batch with parts of the given sizes and rejected rows.
func manifest(id string, rejected int64, sizes ...int) *Manifest {
	var accepted int64
	for _, n := range sizes {
		accepted += int64(n)
	}
	return &Manifest{
		ID: id, Vendor: registry.Yccall, Region: "CN", Queue: "dial", Campaign: json.RawMessage(`{"task":"t1"}`),
		Profile: chunking.Profile{Vendor: registry.Yccall, PartSize: 10, CallSize: 5},
		Read:    accepted + rejected, Accepted: accepted, Rejected: rejected, Duplicates: min(rejected, 1),
		Parts: len(sizes), Created: t0, Source: "list.csv", Fingerprint: "fp-" + id,
	}
}

// stage writes parts of the given sizes (records(p, size)) and that many rejects
// into a new staging area.
func (f *fixture) stage(t *testing.T, sizes []int, rejects int) *Staging {
	t.Helper()
	st := f.s.NewStaging()
	for p, n := range sizes {
		if err := st.WritePart(f.ctx, p, records(p, n)); err != nil {
			t.Fatalf("WritePart(%d): %v", p, err)
		}
	}
	for i := range rejects {
		if err := st.AddReject(f.ctx, Reject{Line: int64(i + 1), Raw: fmt.Sprintf("bad,%d", i), Reason: "invalid phone"}); err != nil {
			t.Fatalf("AddReject: %v", err)
		}
	}
	return st
}

// newBatch commits a batch id with parts of the given sizes and no rejects.
func (f *fixture) newBatch(t *testing.T, id string, sizes ...int) *Manifest {
	t.Helper()
	m := manifest(id, 0, sizes...)
	m.Duplicates = 0
	existing, err := f.stage(t, sizes, 0).Commit(f.ctx, m)
	if err != nil || existing {
		t.Fatalf("Commit(%s) = %v, %v; want false, nil", id, existing, err)
	}
	return m
}

// loadPart reads batch id's manifest and part n's records.
func (f *fixture) loadPart(t *testing.T, id string, n int) ([]chunking.Record, error) {
	t.Helper()
	m, err := f.s.Manifest(f.ctx, id)
	if err != nil {
		t.Fatalf("Manifest(%s): %v", id, err)
	}
	return f.s.LoadPart(f.ctx, m, n)
}

// settle moves part n of id to state and fails t on an error.
func (f *fixture) settle(t *testing.T, id string, n int, state PartState) Settled {
	t.Helper()
	s, err := f.s.SetPartState(f.ctx, id, n, state, time.Time{}, "")
	if err != nil {
		t.Fatalf("SetPartState(%s, %d, %s): %v", id, n, state, err)
	}
	return s
}

// publish publishes finish gen of batch id with its current status.
func (f *fixture) publish(t *testing.T, id string, gen int64) (*Event, bool) {
	t.Helper()
	st, err := f.s.Status(f.ctx, id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	ev := &Event{ID: fmt.Sprintf("%s:finished:%d", id, gen), Type: "batch.finished", Status: st}
	ok, err := f.s.Publish(f.ctx, ev, gen)
	if err != nil {
		t.Fatalf("Publish(%s, %d): %v", id, gen, err)
	}
	return ev, ok
}

// keys lists the keys matching pattern.
func (f *fixture) keys(t *testing.T, pattern string) []string {
	t.Helper()
	ks, err := f.db.Client.Keys(f.ctx, pattern).Result()
	if err != nil {
		t.Fatalf("KEYS %s: %v", pattern, err)
	}
	return ks
}

// checkLedger asserts that batch id's account adds up: the counters against read,
// the counters against the parts' recorded summaries, and the outcome lists
// against the counters. It returns the status.
func (f *fixture) checkLedger(t *testing.T, id string) *Status {
	t.Helper()
	st, err := f.s.Status(f.ctx, id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	if sum := st.Rejected + st.Suppressed + st.Delivered + st.Refused + st.Failed + st.Uncertain + st.Pending; sum != st.Read {
		t.Errorf("read %d != rejected+suppressed+delivered+refused+failed+uncertain+pending %d (%+v)", st.Read, sum, st)
	}
	for name, v := range map[string]int64{"delivered": st.Delivered, "refused": st.Refused, "failed": st.Failed,
		"uncertain": st.Uncertain, "pending": st.Pending} {
		if v < 0 {
			t.Errorf("%s = %d < 0", name, v)
		}
	}
	var fromParts summary
	listed := map[NumberOutcome]int64{}
	for n := range st.Parts {
		ps, err := f.s.Progress(f.ctx, id, n)
		if err != nil {
			t.Fatalf("Progress(%d): %v", n, err)
		}
		for _, sm := range ps.Done {
			fromParts.Delivered += sm.Delivered
			fromParts.Refused += sm.Refused
			fromParts.Failed += sm.Failed
			fromParts.Uncertain += sm.Uncertain
			fromParts.Suppressed += sm.Suppressed
		}
		err = f.s.Outcomes(f.ctx, id, n, func(o Outcome) error { listed[o.State]++; return nil })
		if err != nil {
			t.Fatalf("Outcomes(%d): %v", n, err)
		}
	}
	counters := summary{Delivered: int(st.Delivered), Refused: int(st.Refused), Failed: int(st.Failed), Uncertain: int(st.Uncertain),
		// Suppressed at the worker: the manifest's own count was suppressed at enqueue.
		Suppressed: fromParts.Suppressed}
	if diff := cmp.Diff(fromParts, counters, cmp.AllowUnexported(summary{})); diff != "" {
		t.Errorf("parts' summaries vs batch counters (-parts +counters):\n%s", diff)
	}
	wantListed := map[NumberOutcome]int64{OutcomeRefused: st.Refused, OutcomeFailed: st.Failed, OutcomeUncertain: st.Uncertain,
		OutcomeSuppressed: int64(fromParts.Suppressed)}
	for k, v := range wantListed {
		if v == 0 {
			delete(wantListed, k)
		}
	}
	if diff := cmp.Diff(wantListed, listed); diff != "" {
		t.Errorf("outcome lists vs counters (-counters +listed):\n%s", diff)
	}
	return st
}

func TestCommitRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		sizes     []int
		rejects   int
		retention time.Duration
	}{
		{"one part", []int{3}, 0, 0},
		{"parts and rejects", []int{10, 10, 4}, 3, 48 * time.Hour},
		{"rejects flushed while staging", []int{2}, 1500, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			m := manifest("b1", int64(tt.rejects), tt.sizes...)
			m.Retention = tt.retention
			st := f.stage(t, tt.sizes, tt.rejects)
			existing, err := st.Commit(f.ctx, m)
			if err != nil || existing {
				t.Fatalf("Commit = %v, %v; want false, nil", existing, err)
			}
			want := *m
			if want.Seal != st.Seal() || want.Seal == "" {
				t.Errorf("committed seal = %q; want the staging seal %q", want.Seal, st.Seal())
			}
			if tt.retention == 0 {
				want.Retention = DefaultRetention
			}
			got, err := f.s.Manifest(f.ctx, "b1")
			if err != nil {
				t.Fatalf("Manifest: %v", err)
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Manifest (-want +got):\n%s", diff)
			}
			for p, n := range tt.sizes {
				recs, err := f.s.LoadPart(f.ctx, got, p)
				if err != nil {
					t.Fatalf("LoadPart(%d): %v", p, err)
				}
				if diff := cmp.Diff(records(p, n), recs); diff != "" {
					t.Errorf("LoadPart(%d) (-want +got):\n%s", p, diff)
				}
				if ttl := f.db.Client.PTTL(f.ctx, k.part("b1", p)).Val(); ttl != -1 {
					t.Errorf("part %d PTTL = %v; want none (-1) once committed", p, ttl)
				}
			}
			var lines []int64
			err = f.s.Rejects(f.ctx, "b1", func(r Reject) error {
				if r.Raw != fmt.Sprintf("bad,%d", r.Line-1) || r.Reason != "invalid phone" {
					t.Errorf("reject %+v", r)
				}
				lines = append(lines, r.Line)
				return nil
			})
			if err != nil {
				t.Fatalf("Rejects: %v", err)
			}
			if len(lines) != tt.rejects {
				t.Errorf("Rejects gave %d rows; want %d", len(lines), tt.rejects)
			}
			for i, l := range lines {
				if l != int64(i+1) {
					t.Fatalf("reject %d has line %d; want input order", i, l)
				}
			}
			if ks := f.keys(t, "*"+st.id+"*"); len(ks) != 0 {
				t.Errorf("staging keys left after Commit: %v", ks)
			}
			if ids, _ := f.s.List(f.ctx, 10); !cmp.Equal(ids, []string{"b1"}) {
				t.Errorf("List = %v; want [b1]", ids)
			}
			s := f.checkLedger(t, "b1")
			if s.Finished || s.State != StateEnqueued || s.Pending != m.Accepted || s.PartStates[PartQueued] != len(tt.sizes) {
				t.Errorf("Status after Commit = %+v", s)
			}
		})
	}
}

func TestCommitExisting(t *testing.T) {
	f := setup(t)
	m := f.newBatch(t, "b1", 4)
	// Counts moved by a worker must survive the same command run again.
	if _, err := f.s.RecordRange(f.ctx, "b1", 0, RangeResult{Range: chunking.Range{Lo: 0, Hi: 2}, Delivered: 2}); err != nil {
		t.Fatal(err)
	}
	// The same list (same fingerprint) given again: the manifest stays as written.
	again := manifest("b1", 1, 4)
	again.Vendor = "other"
	st := f.stage(t, []int{4}, 1)
	existing, err := st.Commit(f.ctx, again)
	if err != nil || !existing {
		t.Fatalf("second Commit = %v, %v; want true, nil", existing, err)
	}
	if ks := f.keys(t, "*"+st.id+"*"); len(ks) != 0 {
		t.Errorf("staging keys left after an existing Commit: %v", ks)
	}
	got, err := f.s.Manifest(f.ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Vendor != m.Vendor || got.Rejected != 0 || got.Seal != m.Seal {
		t.Errorf("existing manifest overwritten: %+v", got)
	}
	if recs, err := f.s.LoadPart(f.ctx, got, 0); err != nil || !cmp.Equal(recs, records(0, 4)) {
		t.Errorf("LoadPart after an existing Commit = %v, %v", recs, err)
	}
	if s := f.checkLedger(t, "b1"); s.Delivered != 2 || s.Pending != 2 {
		t.Errorf("Status = delivered %d pending %d; want 2, 2", s.Delivered, s.Pending)
	}
}

// A batch id given again for another list is refused, and nothing of either is lost
// or changed: the staging area is dropped, the existing batch is untouched.
func TestCommitConflict(t *testing.T) {
	f := setup(t)
	m := manifest("b1", 1, 4, 3)
	if _, err := f.stage(t, []int{4, 3}, 1).Commit(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	f.record(t, "b1", 0, rr(0, "dr"))
	before := f.db.Client.Keys(f.ctx, "*").Val()
	dump := map[string]string{}
	for _, key := range before {
		dump[key] = f.db.Client.Dump(f.ctx, key).Val()
	}
	other := manifest("b1", 2, 5)
	other.Vendor, other.Fingerprint = registry.NXCloud, "fp-other"
	st := f.stage(t, []int{5}, 2)
	existing, err := st.Commit(f.ctx, other)
	var ce *ConflictError
	if !errors.As(err, &ce) || existing {
		t.Fatalf("Commit with another fingerprint = %v, %v; want a *ConflictError", existing, err)
	}
	if ce.ID != "b1" || ce.Existing == nil || ce.Existing.Fingerprint != m.Fingerprint || ce.Existing.Vendor != m.Vendor {
		t.Errorf("ConflictError = %+v; want the existing batch's manifest", ce)
	}
	if msg := err.Error(); !strings.Contains(msg, "b1") || !strings.Contains(msg, "list.csv") {
		t.Errorf("error %q does not name the batch and its source", msg)
	}
	if ks := f.keys(t, "*"+st.id+"*"); len(ks) != 0 {
		t.Errorf("staging keys left after a conflict: %v", ks)
	}
	after := f.db.Client.Keys(f.ctx, "*").Val()
	if diff := cmp.Diff(before, after, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("keys after a conflict (-before +after):\n%s", diff)
	}
	for key, v := range dump {
		if got := f.db.Client.Dump(f.ctx, key).Val(); got != v {
			t.Errorf("%s changed by a refused Commit", key)
		}
	}
	for p, n := range []int{4, 3} {
		if recs, err := f.loadPart(t, "b1", p); err != nil || !cmp.Equal(recs, records(p, n)) {
			t.Errorf("LoadPart(%d) after a conflict = %v, %v", p, recs, err)
		}
	}
	if s := f.checkLedger(t, "b1"); s.Delivered != 1 || s.Refused != 1 || s.Accepted != 7 || s.Rejected != 1 {
		t.Errorf("Status after a conflict = %+v", s)
	}
}

// The same command committing concurrently: one creates the batch, the others find it.
func TestCommitConcurrent(t *testing.T) {
	f := setup(t)
	const n = 6
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		made int
	)
	for range n {
		m := manifest("b1", 0, 3, 2)
		st := f.stage(t, []int{3, 2}, 0)
		wg.Go(func() {
			existing, err := st.Commit(f.ctx, m)
			if err != nil {
				t.Errorf("Commit: %v", err)
				return
			}
			if !existing {
				mu.Lock()
				made++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if made != 1 {
		t.Errorf("%d commits created the batch; want 1", made)
	}
	if ks := f.keys(t, "*staging-*"); len(ks) != 0 {
		t.Errorf("staging keys left: %v", ks)
	}
	if s := f.checkLedger(t, "b1"); s.Accepted != 5 || s.Pending != 5 {
		t.Errorf("Status = %+v", s)
	}
}

// After the same command committed concurrently, every part reads back under the
// manifest that won: a losing commit's parts (sealed with its own staging id) must
// not replace the winner's.
func TestCommitConcurrentRecords(t *testing.T) {
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			f := setup(t)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 6 {
				m := manifest("b1", 0, 3, 2)
				st := f.stage(t, []int{3, 2}, 0)
				wg.Go(func() {
					<-start
					if _, err := st.Commit(f.ctx, m); err != nil {
						t.Errorf("Commit: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			for p, size := range []int{3, 2} {
				if recs, err := f.loadPart(t, "b1", p); err != nil || !cmp.Equal(recs, records(p, size)) {
					t.Errorf("LoadPart(%d) after concurrent commits = %d records, %v", p, len(recs), err)
				}
			}
		})
	}
}

func TestStagingErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(f *fixture) error
		want string
	}{
		{"part count mismatch", func(f *fixture) error {
			st := f.s.NewStaging()
			if err := st.WritePart(f.ctx, 0, records(0, 2)); err != nil {
				return err
			}
			_, err := st.Commit(f.ctx, manifest("b1", 0, 2, 2))
			return err
		}, "manifest has 2 parts, 1 staged"},
		{"part out of order", func(f *fixture) error {
			return f.s.NewStaging().WritePart(f.ctx, 1, records(1, 2))
		}, "part 1 written out of order, want 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			err := tt.run(f)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v; want %q", err, tt.want)
			}
			if _, err := f.s.Manifest(f.ctx, "b1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Manifest after a failed Commit: %v; want ErrNotFound", err)
			}
		})
	}
}

func TestAbort(t *testing.T) {
	f := setup(t)
	// 1001 rejects: a thousand are flushed to Redis while staging.
	st := f.stage(t, []int{3, 3}, 1001)
	if ks := f.keys(t, "*"+st.id+"*"); len(ks) != 3 {
		t.Fatalf("staged keys = %v; want 2 parts and the rejects", ks)
	}
	for _, key := range f.keys(t, "*"+st.id+"*") {
		if ttl := f.db.Client.PTTL(f.ctx, key).Val(); ttl <= 0 || ttl > stagingTTL {
			t.Errorf("staged key %s PTTL = %v; want (0, %v]", key, ttl, stagingTTL)
		}
	}
	if err := st.Abort(f.ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if ks := f.keys(t, "*"); len(ks) != 0 {
		t.Errorf("keys left after Abort: %v", ks)
	}
}

// A batch with no parts is committed enqueued and finished by FinishEmpty, once.
func TestCommitZeroParts(t *testing.T) {
	f := setup(t)
	m := manifest("b0", 2, []int{}...)
	st := f.stage(t, nil, 2)
	if existing, err := st.Commit(f.ctx, m); err != nil || existing {
		t.Fatalf("Commit = %v, %v", existing, err)
	}
	if s := f.checkLedger(t, "b0"); s.Finished || s.State != StateEnqueued {
		t.Errorf("zero-part batch before FinishEmpty = %+v; want enqueued", s)
	}
	s1, err := f.s.FinishEmpty(f.ctx, "b0")
	if err != nil || s1 != (Settled{Finished: true, Generation: 1}) {
		t.Fatalf("FinishEmpty = %+v, %v; want finished, generation 1", s1, err)
	}
	if s2, err := f.s.FinishEmpty(f.ctx, "b0"); err != nil || s2.Finished {
		t.Errorf("FinishEmpty again = %+v, %v; want not finished again", s2, err)
	}
	s := f.checkLedger(t, "b0")
	if !s.Finished || s.State != StateFinished || s.FinishedAt == nil || s.Pending != 0 || s.Rejected != 2 {
		t.Errorf("zero-part batch Status = %+v; want finished", s)
	}
	if _, ok := f.publish(t, "b0", 1); !ok {
		t.Errorf("Publish(gen 1) = false; want published")
	}
	evs := f.db.Client.XRange(f.ctx, f.s.EventsStream(), "-", "+").Val()
	if len(evs) != 1 || evs[0].Values["batch"] != "b0" || evs[0].Values["id"] != "b0:finished:1" {
		t.Errorf("events = %v; want one for b0", evs)
	}
	for _, key := range []string{k.manifest("b0"), k.rejects("b0")} {
		if ttl := f.db.Client.PTTL(f.ctx, key).Val(); ttl <= 0 || ttl > DefaultRetention {
			t.Errorf("%s PTTL = %v; want the retention", key, ttl)
		}
	}
}

func TestNotFound(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 2)
	r := RangeResult{Range: chunking.Range{Lo: 0, Hi: 1}, Delivered: 1}
	tests := []struct {
		name string
		run  func() error
	}{
		{"Status", func() error { _, err := f.s.Status(f.ctx, "nope"); return err }},
		{"Manifest", func() error { _, err := f.s.Manifest(f.ctx, "nope"); return err }},
		{"SetControl", func() error { _, err := f.s.SetControl(f.ctx, "nope", ControlCancelled); return err }},
		{"MarkInflight", func() error { return f.s.MarkInflight(f.ctx, "nope", 0, r.Range) }},
		{"RecordRange", func() error { _, err := f.s.RecordRange(f.ctx, "nope", 0, r); return err }},
		{"SetPartState", func() error {
			_, err := f.s.SetPartState(f.ctx, "nope", 0, PartDone, time.Time{}, "")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, ErrNotFound) {
				t.Errorf("error = %v; want ErrNotFound", err)
			}
		})
	}
	// Nothing above may have made "nope" look like a batch.
	if _, err := f.s.Status(f.ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status(nope) after writes = %v; want ErrNotFound", err)
	}
	if ks := f.keys(t, "*nope*"); len(ks) != 0 {
		t.Errorf("keys of a missing batch were written: %v", ks)
	}
	// A part past the last has no records: it is corrupt, never an empty part.
	if recs, err := f.loadPart(t, "b1", 2); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadPart past the last part = %d records, %v; want ErrCorrupt", len(recs), err)
	}
}

// FinishEmpty and Publish on an id that is no batch must not create one.
func TestFinishPublishMissing(t *testing.T) {
	f := setup(t)
	if s, err := f.s.FinishEmpty(f.ctx, "nope"); err == nil && s.Finished {
		t.Errorf("FinishEmpty(nope) = %+v; want no finish", s)
	}
	ev := &Event{ID: "nope:finished:1", Type: "batch.finished", Status: &Status{Batch: "nope"}}
	if ok, _ := f.s.Publish(f.ctx, ev, 1); ok {
		t.Errorf("Publish(nope) = true; want nothing published")
	}
	if ks := f.keys(t, "*nope*"); len(ks) != 0 {
		t.Errorf("keys of a missing batch were written: %v", ks)
	}
	if _, err := f.s.Status(f.ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status(nope) = %v; want ErrNotFound", err)
	}
}

// A batch under the key layout before hash tags is named as such, not "not found".
func TestLegacy(t *testing.T) {
	f := setup(t)
	if err := f.db.Client.HSet(f.ctx, LegacyManifestKey("old"), "vendor", registry.Yccall, "parts", 1).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func(id string) error
	}{
		{"Manifest", func(id string) error { _, err := f.s.Manifest(f.ctx, id); return err }},
		{"Status", func(id string) error { _, err := f.s.Status(f.ctx, id); return err }},
		{"SetControl", func(id string) error { _, err := f.s.SetControl(f.ctx, id, ControlPaused); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run("old"); !errors.Is(err, ErrLegacy) || errors.Is(err, ErrNotFound) {
				t.Errorf("legacy batch: error = %v; want ErrLegacy", err)
			}
			if err := tt.run("never"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrLegacy) {
				t.Errorf("missing batch: error = %v; want ErrNotFound", err)
			}
		})
	}
	if ks := f.keys(t, "*{old}*"); len(ks) != 0 {
		t.Errorf("a legacy batch got new-layout keys: %v", ks)
	}
}

func TestList(t *testing.T) {
	f := setup(t)
	for i, id := range []string{"old", "new", "mid"} {
		m := manifest(id, 0, 1)
		m.Created = t0.Add(time.Duration([]int{0, 2, 1}[i]) * time.Minute)
		if _, err := f.stage(t, []int{1}, 0).Commit(f.ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{1, []string{"new"}},
		{2, []string{"new", "mid"}},
		{10, []string{"new", "mid", "old"}},
	}
	for _, tt := range tests {
		got, err := f.s.List(f.ctx, tt.limit)
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("List(%d) = %v, %v; want %v", tt.limit, got, err, tt.want)
		}
	}
	if err := f.s.Forget(f.ctx, "mid"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.List(f.ctx, 10); !cmp.Equal(got, []string{"new", "old"}) {
		t.Errorf("List after Forget(mid) = %v", got)
	}
}

// batchKeys lists every key batch id has once its parts are recorded.
func batchKeys(id string, parts int) []string {
	keys := []string{k.manifest(id), k.rejects(id)}
	for n := range parts {
		keys = append(keys, k.part(id, n), k.state(id, n), k.outcome(id, n))
	}
	return keys
}

// crc16 is Redis Cluster's key checksum (CRC-16/XMODEM).
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slot is the Cluster slot of key, hash tag rules included.
func slot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16([]byte(key)) % 16384
}

// Every key of a batch maps to one Cluster slot, so each script touches one slot.
func TestKeysHashTag(t *testing.T) {
	if got := crc16([]byte("123456789")); got != 0x31c3 {
		t.Fatalf("crc16 check value = %#x; want 0x31c3", got)
	}
	// Slots go-redis's own tests pin (internal/hashtag), empty and nested tags included.
	for key, want := range map[string]uint16{"123456789": 12739, "{}foo": 9500, "foo{}": 5542, "foo{}{bar}": 8363,
		"foo{bar}": slot("bar"), "foo{{bar}}zap": slot("{bar")} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d; want %d", key, got, want)
		}
	}
	f := setup(t)
	ids := []string{"b1", "yccall:CN:0123abcd", "x-1_Y"}
	for _, id := range ids {
		m := manifest(id, 1, 3, 2)
		if _, err := f.stage(t, []int{3, 2}, 1).Commit(f.ctx, m); err != nil {
			t.Fatal(err)
		}
		for n := range 2 {
			f.record(t, id, n, rr(0, "df"))
			f.settle(t, id, n, PartThrottled)
		}
		if err := f.s.SetControlNumbers(f.ctx, id, "req1", []string{"13800138000"}); err != nil {
			t.Fatal(err)
		}
	}
	all := f.keys(t, "*")
	own := map[string][]string{}
	for _, key := range all {
		if key == k.index() || key == k.events() {
			continue
		}
		var of string
		for _, id := range ids {
			if strings.HasPrefix(key, "dialq:{"+id+"}:") {
				of = id
			}
		}
		if of == "" {
			t.Errorf("key %s carries no batch's hash tag", key)
			continue
		}
		own[of] = append(own[of], key)
	}
	for _, id := range ids {
		want := slot("{" + id + "}")
		// manifest, rejects, 2 parts × (records, state, outcomes), control numbers (the commit claim goes with the commit)
		if len(own[id]) != 9 {
			t.Errorf("batch %s has keys %v; want 9", id, own[id])
		}
		for _, key := range append(own[id], batchKeys(id, 2)...) {
			if got := slot(key); got != want {
				t.Errorf("key %s in slot %d; want %d, its batch's", key, got, want)
			}
		}
	}
}

func TestPublish(t *testing.T) {
	f := setup(t)
	m := manifest("b1", 1, 2, 2)
	m.Retention = time.Hour
	if _, err := f.stage(t, []int{2, 2}, 1).Commit(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	// One refusal a part, so the outcome lists exist and must get a TTL too.
	var last Settled
	for p := range 2 {
		if _, err := f.s.RecordRange(f.ctx, "b1", p, RangeResult{Range: chunking.Range{Lo: 0, Hi: 2}, Delivered: 1,
			Outcomes: []Outcome{{Index: 1, Phone: "x", State: OutcomeRefused}}}); err != nil {
			t.Fatal(err)
		}
		last = f.settle(t, "b1", p, PartDone)
	}
	if last != (Settled{Finished: true, Generation: 1}) {
		t.Fatalf("last SetPartState = %+v; want finished, generation 1", last)
	}
	ev, ok := f.publish(t, "b1", 1)
	if !ok {
		t.Fatalf("Publish = false; want published")
	}
	want := f.checkLedger(t, "b1")
	if !ev.Status.Finished {
		t.Errorf("event = %+v", ev)
	}
	evs, err := f.db.Client.XRange(f.ctx, f.s.EventsStream(), "-", "+").Result()
	if err != nil || len(evs) != 1 {
		t.Fatalf("events = %v, %v; want one", evs, err)
	}
	v := evs[0].Values
	if v["id"] != "b1:finished:1" || v["type"] != "batch.finished" || v["batch"] != "b1" || v["vendor"] != registry.Yccall {
		t.Errorf("event fields = %v", v)
	}
	var got Status
	if err := json.Unmarshal([]byte(v["status"].(string)), &got); err != nil {
		t.Fatalf("event status JSON: %v", err)
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("stream status (-Status +stream):\n%s", diff)
	}
	for _, key := range batchKeys("b1", 2) {
		if ttl := f.db.Client.PTTL(f.ctx, key).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s PTTL = %v; want (0, 1h]", key, ttl)
		}
	}
	// The same finish published again (a redelivered announcement) is not.
	if _, ok := f.publish(t, "b1", 1); ok {
		t.Errorf("Publish of generation 1 again = true; want false")
	}
	if n := f.db.Client.XLen(f.ctx, f.s.EventsStream()).Val(); n != 1 {
		t.Errorf("events after a second Publish = %d; want 1", n)
	}
}

// Each finish takes the next generation and is published once; a finish re-opened
// and finished again is published again under its own generation.
func TestPublishOncePerGeneration(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 2)
	f.record(t, "b1", 0, rr(0, "df"))
	if s := f.settle(t, "b1", 0, PartFailed); s != (Settled{Finished: true, Generation: 1}) {
		t.Fatalf("first finish = %+v; want generation 1", s)
	}
	steps := []struct {
		name string
		gen  int64
		want bool
	}{{"first finish", 1, true}, {"first finish again", 1, false}, {"an older generation", 0, false}}
	for _, s := range steps {
		if _, ok := f.publish(t, "b1", s.gen); ok != s.want {
			t.Errorf("%s: Publish(%d) = %v; want %v", s.name, s.gen, ok, s.want)
		}
	}
	if moved, err := f.s.ReopenFailed(f.ctx, "b1", 0); err != nil || moved != 2 {
		t.Fatalf("ReopenFailed = %d, %v; want 2", moved, err)
	}
	if s := f.settle(t, "b1", 0, PartQueued); s.Finished {
		t.Fatalf("re-open = %+v; want not finished", s)
	}
	f.record(t, "b1", 0, rr(0, "dd"))
	if s := f.settle(t, "b1", 0, PartDone); s != (Settled{Finished: true, Generation: 2}) {
		t.Fatalf("second finish = %+v; want generation 2", s)
	}
	steps = []struct {
		name string
		gen  int64
		want bool
	}{{"first finish after the second", 1, false}, {"second finish", 2, true}, {"second finish again", 2, false}}
	for _, s := range steps {
		if _, ok := f.publish(t, "b1", s.gen); ok != s.want {
			t.Errorf("%s: Publish(%d) = %v; want %v", s.name, s.gen, ok, s.want)
		}
	}
	var ids []string
	for _, e := range f.db.Client.XRange(f.ctx, f.s.EventsStream(), "-", "+").Val() {
		ids = append(ids, e.Values["id"].(string))
	}
	if want := []string{"b1:finished:1", "b1:finished:2"}; !cmp.Equal(ids, want) {
		t.Errorf("events = %v; want %v", ids, want)
	}
	if st := f.checkLedger(t, "b1"); !st.Finished || st.Delivered != 2 || st.Failed != 0 {
		t.Errorf("Status = %+v", st)
	}
}

func TestPublishExpires(t *testing.T) {
	testredis.RequireReal(t)
	f := setup(t)
	m := manifest("b1", 1, 3)
	m.Retention = time.Second
	if _, err := f.stage(t, []int{3}, 1).Commit(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RecordRange(f.ctx, "b1", 0, RangeResult{Range: chunking.Range{Lo: 0, Hi: 3}, Delivered: 2,
		Outcomes: []Outcome{{Index: 2, Phone: "x", State: OutcomeFailed}}}); err != nil {
		t.Fatal(err)
	}
	if s := f.settle(t, "b1", 0, PartDone); !s.Finished {
		t.Fatalf("SetPartState = %+v; want finished", s)
	}
	keys := batchKeys("b1", 1)
	if n := f.db.Client.Exists(f.ctx, keys...).Val(); n != int64(len(keys)) {
		t.Fatalf("%d of %d batch keys exist before Publish", n, len(keys))
	}
	for _, key := range keys {
		if ttl := f.db.Client.PTTL(f.ctx, key).Val(); ttl != -1 {
			t.Errorf("%s PTTL = %v before Publish; want none", key, ttl)
		}
	}
	f.publish(t, "b1", 1)
	for _, key := range keys {
		if ttl := f.db.Client.PTTL(f.ctx, key).Val(); ttl <= 0 || ttl > time.Second {
			t.Errorf("%s PTTL = %v; want (0, 1s]", key, ttl)
		}
	}
	time.Sleep(2500 * time.Millisecond)
	if n := f.db.Client.Exists(f.ctx, keys...).Val(); n != 0 {
		t.Errorf("%d batch keys still exist 2.5s after a 1s retention", n)
	}
	if _, err := f.s.Status(f.ctx, "b1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status after expiry = %v; want ErrNotFound", err)
	}
	// The index outlives the keys until Forget; the event stays on the stream.
	if ids, _ := f.s.List(f.ctx, 10); !cmp.Equal(ids, []string{"b1"}) {
		t.Errorf("List = %v", ids)
	}
	if n := f.db.Client.XLen(f.ctx, f.s.EventsStream()).Val(); n != 1 {
		t.Errorf("events = %d; want 1", n)
	}
}

// A finished, published batch that is re-opened loses its expiry, so its keys
// cannot vanish while the re-opened part runs again.
func TestReopenDropsExpiry(t *testing.T) {
	f := setup(t)
	m := manifest("b1", 0, 2)
	m.Duplicates = 0
	m.Retention = time.Hour
	if _, err := f.stage(t, []int{2}, 0).Commit(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RecordRange(f.ctx, "b1", 0, RangeResult{Range: chunking.Range{Lo: 0, Hi: 2},
		Outcomes: []Outcome{{Index: 0, State: OutcomeFailed}, {Index: 1, State: OutcomeFailed}}}); err != nil {
		t.Fatal(err)
	}
	if s := f.settle(t, "b1", 0, PartFailed); !s.Finished {
		t.Fatalf("SetPartState(failed) = %+v", s)
	}
	f.publish(t, "b1", 1)
	if ttl := f.db.Client.PTTL(f.ctx, k.manifest("b1")).Val(); ttl <= 0 {
		t.Fatalf("manifest PTTL after Publish = %v; want the retention", ttl)
	}
	if _, err := f.s.ReopenFailed(f.ctx, "b1", 0); err != nil {
		t.Fatal(err)
	}
	if s := f.settle(t, "b1", 0, PartQueued); s.Finished {
		t.Fatalf("SetPartState(queued) = %+v", s)
	}
	for _, key := range batchKeys("b1", 1) {
		// -2: the key does not exist (the outcome list emptied by the reopen).
		if ttl := f.db.Client.PTTL(f.ctx, key).Val(); ttl != -1 && ttl != -2 {
			t.Errorf("%s PTTL = %v after reopen; want no expiry", key, ttl)
		}
	}
	if s := f.checkLedger(t, "b1"); s.Finished || s.State != StateEnqueued || s.Pending != 2 || s.FinishedAt != nil {
		t.Errorf("Status after reopen = %+v", s)
	}
}

func TestSetControl(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 1)
	f.newBatch(t, "b2", 1)
	if c, err := f.s.Control(f.ctx, "b1"); err != nil || c != ControlNone {
		t.Fatalf("Control before SetControl = %q, %v", c, err)
	}
	steps := []struct {
		set     Control
		changed bool
		err     error
		want    Control
		state   State
	}{
		{ControlPaused, true, nil, ControlPaused, StatePaused},
		{ControlPaused, false, nil, ControlPaused, StatePaused},
		{ControlNone, true, nil, ControlNone, StateEnqueued},
		{ControlNone, false, nil, ControlNone, StateEnqueued},
		{ControlPaused, true, nil, ControlPaused, StatePaused},
		{ControlCancelled, true, nil, ControlCancelled, StateCancelled},
		{ControlCancelled, false, nil, ControlCancelled, StateCancelled},
		// A cancel is for good: neither pause nor resume undoes it.
		{ControlPaused, false, ErrAlreadyCancelled, ControlCancelled, StateCancelled},
		{ControlNone, false, ErrAlreadyCancelled, ControlCancelled, StateCancelled},
	}
	for i, s := range steps {
		changed, err := f.s.SetControl(f.ctx, "b1", s.set)
		if changed != s.changed || !errors.Is(err, s.err) || (s.err == nil) != (err == nil) {
			t.Fatalf("step %d: SetControl(%q) = %v, %v; want %v, %v", i, s.set, changed, err, s.changed, s.err)
		}
		c, err := f.s.Control(f.ctx, "b1")
		if err != nil || c != s.want {
			t.Errorf("step %d: Control = %q, %v; want %q", i, c, err, s.want)
		}
		st := f.checkLedger(t, "b1")
		if st.State != s.state || st.Control != s.want || st.Paused != (s.want == ControlPaused) ||
			st.Cancelled != (s.want == ControlCancelled) || st.Finished {
			t.Errorf("step %d: Status = state %s control %q paused %v cancelled %v", i, st.State, st.Control, st.Paused, st.Cancelled)
		}
	}
	if c, err := f.s.Control(f.ctx, "b2"); err != nil || c != ControlNone {
		t.Errorf("Control(b2) = %q, %v; another batch's control leaked", c, err)
	}
	// A cancelled batch still finishes once its parts settle.
	f.record(t, "b1", 0, rr(0, "f"))
	if s := f.settle(t, "b1", 0, PartCancelled); !s.Finished {
		t.Errorf("settling a cancelled batch's last part = %+v; want finished", s)
	}
	if st := f.checkLedger(t, "b1"); st.State != StateFinished || !st.Finished || !st.Cancelled {
		t.Errorf("cancelled batch after its last part = %+v", st)
	}
	// A finished batch takes no control.
	for _, c := range []Control{ControlPaused, ControlCancelled, ControlNone} {
		if changed, err := f.s.SetControl(f.ctx, "b1", c); changed || !errors.Is(err, ErrFinished) {
			t.Errorf("SetControl(%q) on a finished batch = %v, %v; want ErrFinished", c, changed, err)
		}
	}
}

func TestParts(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 1, 1, 1, 1, 1)
	at := time.UnixMilli(1_800_000_000_000).UTC()
	set := []struct {
		state PartState
		at    time.Time
		why   string
	}{{PartRunning, time.Time{}, ""}, {}, {PartFailed, time.Time{}, ""}, {PartUncertain, time.Time{}, ""},
		{PartThrottled, at, "vendor 429"}}
	for n, s := range set {
		if s.state == "" {
			continue
		}
		if _, err := f.s.SetPartState(f.ctx, "b1", n, s.state, s.at, s.why); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.NoteError(f.ctx, "b1", 2, "vendor said no"); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.Parts(f.ctx, "b1", 5)
	want := []PartStatus{{Part: 0, State: PartRunning}, {Part: 1, State: PartQueued},
		{Part: 2, State: PartFailed, LastError: "vendor said no"}, {Part: 3, State: PartUncertain},
		{Part: 4, State: PartThrottled, ResumeAt: &at, WaitReason: "vendor 429"}}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parts (-want +got):\n%s", diff)
	}
	s := f.checkLedger(t, "b1")
	wantCounts := map[PartState]int{PartRunning: 1, PartQueued: 1, PartFailed: 1, PartUncertain: 1, PartThrottled: 1}
	if diff := cmp.Diff(wantCounts, s.PartStates); diff != "" {
		t.Errorf("Status.PartStates (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[4:], s.Waiting); diff != "" {
		t.Errorf("Status.Waiting (-want +got):\n%s", diff)
	}
	// The part's next call clears its wait.
	if err := f.s.MarkInflight(f.ctx, "b1", 4, chunking.Range{Lo: 0, Hi: 1}); err != nil {
		t.Fatal(err)
	}
	if ps, _ := f.s.Progress(f.ctx, "b1", 4); ps.State != PartRunning || !ps.ResumeAt.IsZero() || ps.WaitReason != "" {
		t.Errorf("after MarkInflight: %+v; want running, no wait", ps)
	}
	if s := f.checkLedger(t, "b1"); len(s.Waiting) != 0 {
		t.Errorf("Status.Waiting after the call started = %+v", s.Waiting)
	}
	if got, err := f.s.Parts(f.ctx, "b1", 0); err != nil || len(got) != 0 {
		t.Errorf("Parts(0 parts) = %v, %v", got, err)
	}
	if _, err := f.s.SetPartState(f.ctx, "b1", 0, "finished", time.Time{}, ""); err == nil ||
		!strings.Contains(err.Error(), `unknown part state "finished"`) {
		t.Errorf("SetPartState(finished) = %v; want unknown part state", err)
	}
	// A state key of the wrong type is an error, not "queued".
	if err := f.db.Client.Set(f.ctx, k.state("b1", 1), "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Parts(f.ctx, "b1", 5); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("Parts over a corrupt key = %v; want WRONGTYPE", err)
	}
}

// A manifest whose fixed fields were changed after commit is refused: the records'
// seal, the sizes and the campaign are what every worker trusts.
func TestManifestChecksum(t *testing.T) {
	tests := []struct {
		field, value string
		corrupt      bool
	}{
		{"vendor", registry.NXCloud, true},
		{"queue", "elsewhere", true},
		{"campaign", `{"task":"t2"}`, true},
		{"profile", `{"vendor":"yccall","part_size":99}`, true},
		{"profile", `not json`, true},
		{"accepted", "11", true},
		{"read", "1", true},
		{"parts", "3", true},
		{"created", "1", true},
		{"seal", "staging-0000", true},
		{"fingerprint", "fp-other", true},
		{"sum", "00", true},
		// Counters and states move after commit: they are not covered.
		{"delivered", "3", false},
		{"state", string(StateFinished), false},
		{"control", string(ControlPaused), false},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.value, func(t *testing.T) {
			f := setup(t)
			f.newBatch(t, "b1", 4, 4)
			if err := f.db.Client.HSet(f.ctx, k.manifest("b1"), tt.field, tt.value).Err(); err != nil {
				t.Fatal(err)
			}
			_, err := f.s.Manifest(f.ctx, "b1")
			if got := errors.Is(err, ErrCorrupt); got != tt.corrupt || (!tt.corrupt && err != nil) {
				t.Errorf("Manifest after HSET %s %s = %v; want corrupt %v", tt.field, tt.value, err, tt.corrupt)
			}
		})
	}
	f := setup(t)
	f.newBatch(t, "b1", 4)
	if err := f.db.Client.HDel(f.ctx, k.manifest("b1"), "sum").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Manifest(f.ctx, "b1"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Manifest without a checksum = %v; want ErrCorrupt", err)
	}
}
