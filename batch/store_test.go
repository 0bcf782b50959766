package batch

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

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/testredis"
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
		ID: id, Vendor: chunking.Yccall, Region: "CN", Queue: "dial", Campaign: json.RawMessage(`{"task":"t1"}`),
		Profile: chunking.Profile{Vendor: chunking.Yccall, PartSize: 10, CallSize: 5},
		Read:    accepted + rejected, Accepted: accepted, Rejected: rejected, Duplicates: min(rejected, 1),
		Parts: len(sizes), Created: t0, Source: "list.csv",
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
	if sum := st.Rejected + st.Delivered + st.Refused + st.Failed + st.Uncertain + st.Pending; sum != st.Read {
		t.Errorf("read %d != rejected+delivered+refused+failed+uncertain+pending %d (%+v)", st.Read, sum, st)
	}
	for name, v := range map[string]int64{"delivered": st.Delivered, "refused": st.Refused, "failed": st.Failed,
		"uncertain": st.Uncertain, "pending": st.Pending} {
		if v < 0 {
			t.Errorf("%s = %d < 0", name, v)
		}
	}
	var fromParts summary
	listed := map[string]int64{}
	for n := range st.Parts {
		ps, err := f.s.PartState(f.ctx, id, n)
		if err != nil {
			t.Fatalf("PartState(%d): %v", n, err)
		}
		for _, sm := range ps.Done {
			fromParts.Delivered += sm.Delivered
			fromParts.Refused += sm.Refused
			fromParts.Failed += sm.Failed
			fromParts.Uncertain += sm.Uncertain
		}
		err = f.s.Outcomes(f.ctx, id, n, func(o Outcome) error { listed[o.State]++; return nil })
		if err != nil {
			t.Fatalf("Outcomes(%d): %v", n, err)
		}
	}
	counters := summary{Delivered: int(st.Delivered), Refused: int(st.Refused), Failed: int(st.Failed), Uncertain: int(st.Uncertain)}
	if diff := cmp.Diff(fromParts, counters, cmp.AllowUnexported(summary{})); diff != "" {
		t.Errorf("parts' summaries vs batch counters (-parts +counters):\n%s", diff)
	}
	wantListed := map[string]int64{OutcomeRefused: st.Refused, OutcomeFailed: st.Failed, OutcomeUncertain: st.Uncertain}
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
				recs, err := f.s.LoadPart(f.ctx, "b1", p)
				if err != nil {
					t.Fatalf("LoadPart(%d): %v", p, err)
				}
				if diff := cmp.Diff(records(p, n), recs); diff != "" {
					t.Errorf("LoadPart(%d) (-want +got):\n%s", p, diff)
				}
				if ttl := f.db.Client.PTTL(f.ctx, f.s.partKey("b1", p)).Val(); ttl != -1 {
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
	if got.Vendor != m.Vendor || got.Rejected != 0 {
		t.Errorf("existing manifest overwritten: %+v", got)
	}
	if s := f.checkLedger(t, "b1"); s.Delivered != 2 || s.Pending != 2 {
		t.Errorf("Status = delivered %d pending %d; want 2, 2", s.Delivered, s.Pending)
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
	for _, k := range f.keys(t, "*"+st.id+"*") {
		if ttl := f.db.Client.PTTL(f.ctx, k).Val(); ttl <= 0 || ttl > stagingTTL {
			t.Errorf("staged key %s PTTL = %v; want (0, %v]", k, ttl, stagingTTL)
		}
	}
	if err := st.Abort(f.ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if ks := f.keys(t, "*"); len(ks) != 0 {
		t.Errorf("keys left after Abort: %v", ks)
	}
}

func TestCommitZeroParts(t *testing.T) {
	f := setup(t)
	m := manifest("b0", 2, []int{}...)
	st := f.stage(t, nil, 2)
	if existing, err := st.Commit(f.ctx, m); err != nil || existing {
		t.Fatalf("Commit = %v, %v", existing, err)
	}
	s := f.checkLedger(t, "b0")
	if !s.Finished || s.State != StateFinished || s.FinishedAt == nil || s.Pending != 0 || s.Rejected != 2 {
		t.Errorf("zero-part batch Status = %+v; want finished", s)
	}
	evs := f.db.Client.XRange(f.ctx, f.s.EventsStream(), "-", "+").Val()
	if len(evs) != 1 || evs[0].Values["batch"] != "b0" {
		t.Errorf("events = %v; want one for b0", evs)
	}
	for _, k := range []string{f.s.manifestKey("b0"), f.s.rejectsKey("b0")} {
		if ttl := f.db.Client.PTTL(f.ctx, k).Val(); ttl <= 0 || ttl > DefaultRetention {
			t.Errorf("%s PTTL = %v; want the retention", k, ttl)
		}
	}
}

func TestNotFound(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 2)
	rr := RangeResult{Range: chunking.Range{Lo: 0, Hi: 1}, Delivered: 1}
	tests := []struct {
		name string
		run  func() error
	}{
		{"Status", func() error { _, err := f.s.Status(f.ctx, "nope"); return err }},
		{"Manifest", func() error { _, err := f.s.Manifest(f.ctx, "nope"); return err }},
		{"Announce", func() error { _, err := f.s.Announce(f.ctx, "nope"); return err }},
		{"LoadPart of a missing batch", func() error { _, err := f.s.LoadPart(f.ctx, "nope", 0); return err }},
		{"LoadPart past the last part", func() error { _, err := f.s.LoadPart(f.ctx, "b1", 1); return err }},
		{"Cancel", func() error { return f.s.Cancel(f.ctx, "nope") }},
		{"RecordRange", func() error { _, err := f.s.RecordRange(f.ctx, "nope", 0, rr); return err }},
		{"SetPartState", func() error { _, err := f.s.SetPartState(f.ctx, "nope", 0, PartDone); return err }},
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

func TestParsePartTaskID(t *testing.T) {
	tests := []struct {
		in   string
		id   string
		n    int
		isOK bool
	}{
		{TaskID("b1", 0), "b1", 0, true},
		{TaskID("yccall:CN:ab12", 1234), "yccall:CN:ab12", 1234, true},
		{"b1", "", 0, false},
		{"b1:", "", 0, false},
		{"b1:x", "", 0, false},
		{"b1:-1", "", 0, false},
		{":3", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		id, n, ok := ParsePartTaskID(tt.in)
		if id != tt.id || n != tt.n || ok != tt.isOK {
			t.Errorf("ParsePartTaskID(%q) = %q, %d, %v; want %q, %d, %v", tt.in, id, n, ok, tt.id, tt.n, tt.isOK)
		}
	}
	for _, id := range []string{"b", "vendor:region:hash", "x:1"} {
		for _, n := range []int{0, 7, 99999} {
			gotID, gotN, ok := ParsePartTaskID(TaskID(id, n))
			if !ok || gotID != id || gotN != n {
				t.Errorf("ParsePartTaskID(TaskID(%q, %d)) = %q, %d, %v", id, n, gotID, gotN, ok)
			}
		}
	}
}

// batchKeys lists every key batch id has once its parts are recorded.
func (f *fixture) batchKeys(id string, parts int) []string {
	keys := []string{f.s.manifestKey(id), f.s.rejectsKey(id)}
	for n := range parts {
		keys = append(keys, f.s.partKey(id, n), f.s.stateKey(id, n), f.s.outcomeKey(id, n))
	}
	return keys
}

func TestAnnounce(t *testing.T) {
	f := setup(t)
	m := manifest("b1", 1, 2, 2)
	m.Retention = time.Hour
	if _, err := f.stage(t, []int{2, 2}, 1).Commit(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	// One refusal a part, so the outcome lists exist and must get a TTL too.
	for p := range 2 {
		if _, err := f.s.RecordRange(f.ctx, "b1", p, RangeResult{Range: chunking.Range{Lo: 0, Hi: 2}, Delivered: 1,
			Outcomes: []Outcome{{Index: 1, Phone: "x", State: OutcomeRefused}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.SetPartState(f.ctx, "b1", p, PartDone); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := f.s.Announce(f.ctx, "b1")
	if err != nil {
		t.Fatalf("Announce: %v", err)
	}
	want := f.checkLedger(t, "b1")
	if ev.Type != "batch.finished" || !ev.Status.Finished {
		t.Errorf("event = %+v", ev)
	}
	if diff := cmp.Diff(want, ev.Status); diff != "" {
		t.Errorf("event status (-Status +event):\n%s", diff)
	}
	evs, err := f.db.Client.XRange(f.ctx, f.s.EventsStream(), "-", "+").Result()
	if err != nil || len(evs) != 1 {
		t.Fatalf("events = %v, %v; want one", evs, err)
	}
	v := evs[0].Values
	if v["type"] != "batch.finished" || v["batch"] != "b1" || v["vendor"] != chunking.Yccall {
		t.Errorf("event fields = %v", v)
	}
	var got Status
	if err := json.Unmarshal([]byte(v["status"].(string)), &got); err != nil {
		t.Fatalf("event status JSON: %v", err)
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("stream status (-Status +stream):\n%s", diff)
	}
	// miniredis keeps TTLs as set (they only do not tick), so this holds on both.
	for _, k := range f.batchKeys("b1", 2) {
		if ttl := f.db.Client.PTTL(f.ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s PTTL = %v; want (0, 1h]", k, ttl)
		}
	}
}

func TestAnnounceExpires(t *testing.T) {
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
	if finished, err := f.s.SetPartState(f.ctx, "b1", 0, PartDone); err != nil || !finished {
		t.Fatalf("SetPartState = %v, %v", finished, err)
	}
	keys := f.batchKeys("b1", 1)
	if n := f.db.Client.Exists(f.ctx, keys...).Val(); n != int64(len(keys)) {
		t.Fatalf("%d of %d batch keys exist before Announce", n, len(keys))
	}
	if _, err := f.s.Announce(f.ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if ttl := f.db.Client.PTTL(f.ctx, k).Val(); ttl <= 0 || ttl > time.Second {
			t.Errorf("%s PTTL = %v; want (0, 1s]", k, ttl)
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

// A finished, announced batch that is re-opened loses its expiry, so its keys
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
	if fin, err := f.s.SetPartState(f.ctx, "b1", 0, PartFailed); err != nil || !fin {
		t.Fatalf("SetPartState(failed) = %v, %v", fin, err)
	}
	if _, err := f.s.Announce(f.ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ReopenFailed(f.ctx, "b1", 0); err != nil {
		t.Fatal(err)
	}
	if fin, err := f.s.SetPartState(f.ctx, "b1", 0, PartQueued); err != nil || fin {
		t.Fatalf("SetPartState(queued) = %v, %v", fin, err)
	}
	for _, k := range f.batchKeys("b1", 1) {
		// -2: the key does not exist (the outcome list emptied by the reopen).
		if ttl := f.db.Client.PTTL(f.ctx, k).Val(); ttl != -1 && ttl != -2 {
			t.Errorf("%s PTTL = %v after reopen; want no expiry", k, ttl)
		}
	}
	if s := f.checkLedger(t, "b1"); s.Finished || s.Pending != 2 || s.FinishedAt != nil {
		t.Errorf("Status after reopen = %+v", s)
	}
}

func TestCancel(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 1)
	f.newBatch(t, "b2", 1)
	if c, err := f.s.Cancelled(f.ctx, "b1"); err != nil || c {
		t.Fatalf("Cancelled before Cancel = %v, %v", c, err)
	}
	for range 2 { // cancelling twice is fine
		if err := f.s.Cancel(f.ctx, "b1"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
	}
	tests := []struct {
		id   string
		want bool
	}{{"b1", true}, {"b2", false}, {"missing", false}}
	for _, tt := range tests {
		if c, err := f.s.Cancelled(f.ctx, tt.id); err != nil || c != tt.want {
			t.Errorf("Cancelled(%s) = %v, %v; want %v", tt.id, c, err, tt.want)
		}
	}
	if s := f.checkLedger(t, "b1"); !s.Cancelled || s.Finished {
		t.Errorf("Status = %+v; want cancelled, not finished", s)
	}
}

func TestPartStates(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 1, 1, 1, 1)
	set := []string{PartRunning, "", PartFailed, PartUncertain}
	for n, st := range set {
		if st == "" {
			continue
		}
		if _, err := f.s.SetPartState(f.ctx, "b1", n, st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.s.PartStates(f.ctx, "b1", 4)
	want := []string{PartRunning, PartQueued, PartFailed, PartUncertain}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("PartStates = %v, %v; want %v", got, err, want)
	}
	s := f.checkLedger(t, "b1")
	wantCounts := map[string]int{PartRunning: 1, PartQueued: 1, PartFailed: 1, PartUncertain: 1}
	if diff := cmp.Diff(wantCounts, s.PartStates); diff != "" {
		t.Errorf("Status.PartStates (-want +got):\n%s", diff)
	}
	if got, err := f.s.PartStates(f.ctx, "b1", 0); err != nil || len(got) != 0 {
		t.Errorf("PartStates(0 parts) = %v, %v", got, err)
	}
	// A state key of the wrong type is an error, not "queued".
	if err := f.db.Client.Set(f.ctx, f.s.stateKey("b1", 1), "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.PartStates(f.ctx, "b1", 4); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("PartStates over a corrupt key = %v; want WRONGTYPE", err)
	}
}
