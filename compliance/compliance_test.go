package compliance

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/compliance/policy"
	"github.com/dialq/dialq/compliance/window"
	"github.com/dialq/dialq/internal/testredis"
)

func setup(t *testing.T) (*Store, *testredis.DB) {
	t.Helper()
	testredis.RequireReal(t) // Lua struct, EXPIRE NX/GT and real TTLs
	db := testredis.New(t)
	return NewStore(db.Client), db
}

func TestMixIsABijection(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ns := []uint64{0, 1, 8613800138000, 999999999999999, mask50}
	for range 100000 {
		ns = append(ns, r.Uint64N(1e15))
	}
	for _, n := range ns {
		if got := unmix(mix(n)); got != n {
			t.Fatalf("unmix(mix(%d)) = %d", n, got)
		}
		if mix(n) > mask50 {
			t.Fatalf("mix(%d) = %d leaves 50 bits", n, mix(n))
		}
		b, f := slot(n)
		if got, err := unslot(b, f); err != nil || got != n {
			t.Fatalf("unslot(slot(%d)) = %d, %v", n, got, err)
		}
	}
}

func TestBucketsEven(t *testing.T) {
	// Consecutive numbers (a block of one operator's range) must spread evenly.
	counts := make([]int, nBuckets)
	const n = 10 * nBuckets
	for i := range uint64(n) {
		b, _ := slot(8613800000000 + i)
		counts[b]++
	}
	sort.Ints(counts)
	if counts[len(counts)-1] > 40 {
		t.Fatalf("fullest bucket holds %d of a mean 10", counts[len(counts)-1])
	}
}

func TestParseE164(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  bool
	}{
		{"+8613800138000", 8613800138000, false},
		{"8613800138000", 8613800138000, false},
		{" +1 (212) 555-0100 ", 12125550100, false},
		{"013800138000", 0, true},
		{"+86abc", 0, true},
		{"123456", 0, true},
		{"1234567890123456", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseE164(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseE164(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestConverter(t *testing.T) {
	tests := []struct {
		vendor, region, phone string
		want                  uint64
	}{
		{"yccall", "CN", "13800138000", 8613800138000},
		{"yccall", "CN", "13800138001", 8613800138001}, // from the cache
		{"speech", "CN", "01012345678", 861012345678},  // landline: national prefix 0
		{"speech", "CN", "01087654321", 861087654321},  // cached prefix
		{"nxcloud", "CN", "8613800138000", 8613800138000},
		{"yccall", "IT", "0612345678", 390612345678}, // Italy keeps its leading zero
		{"yccall", "US", "2125550100", 12125550100},
	}
	convs := map[string]*Converter{}
	for _, tt := range tests {
		c := convs[tt.vendor+tt.region]
		if c == nil {
			var err error
			if c, err = NewConverter(tt.vendor, tt.region); err != nil {
				t.Fatal(err)
			}
			convs[tt.vendor+tt.region] = c
		}
		if got, err := c.Key(tt.phone); err != nil || got != tt.want {
			t.Errorf("%s/%s Key(%q) = %d, %v; want %d", tt.vendor, tt.region, tt.phone, got, err, tt.want)
		}
	}
}

func TestListLifecycle(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	added, err := s.Add(ctx, "dnc", []string{"+8613800138000", "8613800138001", "+12125550100", "+8613800138000"}, time.Time{})
	if err != nil || added != 3 {
		t.Fatalf("Add = %d, %v; want 3 new", added, err)
	}
	if _, err := s.Add(ctx, "vip-optout", []string{"+8613800138001"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		lists   []string
		numbers []string
		want    []string
	}{
		{"dnc", []string{"dnc"}, []string{"+8613800138000", "+8613900139000", "12125550100"}, []string{"dnc", "", "dnc"}},
		{"first list wins", []string{"vip-optout", "dnc"}, []string{"+8613800138001", "+8613800138000"}, []string{"vip-optout", "dnc"}},
		{"other list", []string{"vip-optout"}, []string{"+8613800138000"}, []string{""}},
		{"empty list", []string{"nobody"}, []string{"+8613800138000"}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Check(ctx, tt.lists, tt.numbers)
			if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("Check(%v, %v) = %v, %v; want %v", tt.lists, tt.numbers, got, err, tt.want)
			}
		})
	}
	if n, err := s.Count(ctx, "dnc"); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v; want 3", n, err)
	}
	removed, err := s.Remove(ctx, "dnc", []string{"+8613800138000", "+8613700000000"})
	if err != nil || removed != 1 {
		t.Fatalf("Remove = %d, %v; want 1", removed, err)
	}
	if got, _ := s.Check(ctx, []string{"dnc"}, []string{"+8613800138000"}); got[0] != "" {
		t.Fatalf("removed number still listed: %v", got)
	}
	var exported []string
	if err := s.Export(ctx, "dnc", func(n string, exp time.Time) error {
		exported = append(exported, n)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(exported)
	if want := "+12125550100,+8613800138001"; strings.Join(exported, ",") != want {
		t.Fatalf("Export = %v; want %s", exported, want)
	}
	if _, err := s.Add(ctx, "Bad List", []string{"+8613800138000"}, time.Time{}); err == nil {
		t.Fatal("Add to a bad list name: no error")
	}
	if _, err := s.Add(ctx, "dnc", []string{"+86abc"}, time.Time{}); err == nil || strings.Contains(err.Error(), "86abc") {
		t.Fatalf("Add of a malformed number = %v; want an error without the number", err)
	}
}

func TestExpiry(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	soon := time.Now().Add(2 * time.Second)
	if _, err := s.Add(ctx, "dnc", []string{"+8613800138000", "+8613800138001"}, soon); err != nil {
		t.Fatal(err)
	}
	// A permanent entry is never shortened by a later import with an expiry, and an
	// expiring one is lengthened by a permanent import.
	if _, err := s.Add(ctx, "dnc", []string{"+8613800138002"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, "dnc", []string{"+8613800138002"}, soon); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, "dnc", []string{"+8613800138001"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	numbers := []string{"+8613800138000", "+8613800138001", "+8613800138002"}
	if got, _ := s.Check(ctx, []string{"dnc"}, numbers); strings.Join(got, ",") != "dnc,dnc,dnc" {
		t.Fatalf("before expiry Check = %v", got)
	}
	time.Sleep(time.Until(soon) + 1100*time.Millisecond) // real wait on real Redis
	if got, _ := s.Check(ctx, []string{"dnc"}, numbers); strings.Join(got, ",") != ",dnc,dnc" {
		t.Fatalf("after expiry Check = %v; want the first expired", got)
	}
	if n, err := s.Count(ctx, "dnc"); err != nil || n != 2 {
		t.Fatalf("Count after expiry = %d, %v; want 2", n, err)
	}
	// Count deleted the expired entry: re-adding it counts as new.
	if added, _ := s.Add(ctx, "dnc", numbers[:1], time.Time{}); added != 1 {
		t.Fatalf("re-adding an expired number: %d new; want 1", added)
	}
}

func TestCapRace(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	now := time.Now()
	// Two batches (and 8 workers each) race for one number with a cap of 1: one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for b := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			taken, _, err := s.takeCaps(ctx, []uint64{8613800138000}, Holder(fmt.Sprintf("batch-%d", b)), 1, 30, now)
			if err != nil {
				t.Error(err)
				return
			}
			if taken[0] {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d takes of a cap of 1; want 1", wins)
	}
}

func TestCapTakeRelease(t *testing.T) {
	s, db := setup(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	day := 24 * time.Hour
	steps := []struct {
		name   string
		holder uint32
		at     time.Time
		want   bool
	}{
		{"first", 0, now, true},
		{"second under max 2", 0, now.Add(time.Hour), true},
		{"third refused", 0, now.Add(2 * time.Hour), false},
		{"period over for the first", 0, now.Add(7*day + time.Second), true},
		{"holder refused", 7, now.Add(7*day + 2*time.Second), false},
	}
	for _, st := range steps {
		ok, _, err := s.takeCap(ctx, 8613800138000, st.holder, 2, 7, st.at)
		if err != nil || ok != st.want {
			t.Fatalf("%s: takeCap = %v, %v; want %v", st.name, ok, err, st.want)
		}
	}
	if err := s.ReleaseCap(ctx, "+8613800138000", now.Add(7*day+time.Second)); err != nil {
		t.Fatal(err)
	}
	ok, at, err := s.takeCap(ctx, 8613800138000, 7, 2, 7, now.Add(7*day+3*time.Second))
	if err != nil || !ok {
		t.Fatalf("after release takeCap = %v, %v; want a take", ok, err)
	}
	// The same holder taking again gets its take back, not a second one.
	ok2, at2, err := s.takeCap(ctx, 8613800138000, 7, 2, 7, now.Add(7*day+time.Minute))
	if err != nil || !ok2 || at2 != at {
		t.Fatalf("same holder again = %v %d, %v; want its take at %d", ok2, at2, err, at)
	}
	full, err := s.CapFull(ctx, []uint64{8613800138000, 8613900139000}, 2, 7, now.Add(7*day+time.Minute))
	if err != nil || !full[0] || full[1] {
		t.Fatalf("CapFull = %v, %v; want [true false]", full, err)
	}
	if ttl := db.Client.TTL(ctx, capKey(8613800138000)).Val(); ttl <= 6*day || ttl > 7*day {
		t.Fatalf("cap key TTL %v; want the 7-day period", ttl)
	}
}

// TestCapBytes measures a capped number's Redis memory, quoted in cap.go.
func TestCapBytes(t *testing.T) {
	s, db := setup(t)
	ctx := context.Background()
	if ok, err := s.TakeCap(ctx, "+8613800138000", 3, 30, time.Now()); err != nil || !ok {
		t.Fatal(ok, err)
	}
	one := db.Client.MemoryUsage(ctx, capKey(8613800138000)).Val()
	if ok, err := s.TakeCap(ctx, "+8613800138000", 3, 30, time.Now()); err != nil || !ok {
		t.Fatal(ok, err)
	}
	two := db.Client.MemoryUsage(ctx, capKey(8613800138000)).Val()
	t.Logf("contact cap: %d bytes with one take, %d with two", one, two)
	if one > 100 {
		t.Fatalf("one take costs %d bytes", one)
	}
}

func gateCfg(window *policy.Window) policy.Compliance {
	return policy.Compliance{Suppress: []string{"dnc"}, ContactCap: &policy.ContactCap{Max: 1, Days: 30}, Window: window}
}

func TestGate(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	g := NewGate(s)
	now := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC) // 11:00 in Shanghai
	win := &policy.Window{Timezone: "Asia/Shanghai", Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "20:00"}
	cfg := gateCfg(win)
	phones := []string{"+8613800138000", "+8613800138001", "+8613800138002"}

	// Enqueued earlier; the first number opts out before delivery: not sent.
	if _, err := s.Add(ctx, "dnc", phones[:1], time.Time{}); err != nil {
		t.Fatal(err)
	}
	d, err := g.BeforeCall(ctx, "batch-a", cfg, phones, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := "suppressed:dnc,ok,ok"; strings.Join(d.Verdicts, ",") != want || d.Send(0) || !d.Send(1) || len(d.Caps) != 2 {
		t.Fatalf("BeforeCall = %+v; want %s with two caps", d, want)
	}
	// Another batch racing for the same numbers: the caps are taken.
	d2, err := g.BeforeCall(ctx, "batch-b", cfg, phones[1:], now)
	if err != nil || strings.Join(d2.Verdicts, ",") != "contact_cap,contact_cap" {
		t.Fatalf("second batch = %+v, %v; want both capped", d2, err)
	}
	// batch-a's call for the third number is not sent: the take is given back.
	if err := g.Release(ctx, "batch-a", d.Caps[1:], now); err != nil {
		t.Fatal(err)
	}
	d3, err := g.BeforeCall(ctx, "batch-b", cfg, phones[2:], now)
	if err != nil || !d3.Send(0) {
		t.Fatalf("after release = %+v, %v; want sent", d3, err)
	}

	// Saturday in Shanghai: deferred to Monday 09:00, nothing taken.
	sat := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	d4, err := g.BeforeCall(ctx, "batch-c", cfg, []string{"+8613900139000"}, sat)
	if want := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC); err != nil || !d4.WindowOpensAt.Equal(want) || d4.Send(0) {
		t.Fatalf("Saturday = %+v, %v; want deferred to %v", d4, err, want)
	}
	if full, _ := s.CapFull(ctx, []uint64{8613900139000}, 1, 30, sat); full[0] {
		t.Fatal("a deferred call took the cap")
	}
	// A US number under a Shanghai 09-20 window: the zones never agree.
	if _, err := g.BeforeCall(ctx, "batch-c", cfg, []string{"+12125550100"}, now); !errors.Is(err, window.ErrNeverOpens) {
		t.Fatalf("US number under a Shanghai window: %v; want ErrNeverOpens", err)
	}

	var buf bytes.Buffer
	if err := s.ExportAudit(ctx, "batch-a", &buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[1]+" "+r[2]+" "+r[3])
	}
	// The phone cells carry csvcell's ' against spreadsheet formulas.
	want := []string{
		"'+8613800138000 suppressed dnc",
		"'+8613800138001 cap_taken 1/30d",
		"'+8613800138002 cap_taken 1/30d",
		"'+8613800138002 cap_released ",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") || rows[1][4] != "2026-12-03T03:00:00Z" {
		t.Fatalf("audit =\n%v\nwant\n%v", rows, want)
	}
}

func TestFilter(t *testing.T) {
	s, db := setup(t)
	ctx := context.Background()
	now := time.Now()
	if _, err := s.Add(ctx, "dnc", []string{"+8613800138000"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.TakeCap(ctx, "+8613800138002", 1, 30, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	f, err := NewFilter(s, gateCfg(nil), "yccall", "CN", now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Check(ctx, []string{"13800138000", "13800138001", "13800138002"})
	if err != nil || strings.Join(got, ",") != "suppressed:dnc,,contact_cap" {
		t.Fatalf("Filter.Check = %v, %v", got, err)
	}
	// Reading does not take: the middle number's cap is untouched.
	if full, _ := s.CapFull(ctx, []uint64{8613800138001}, 1, 30, now); full[0] {
		t.Fatal("the enqueue check took a cap")
	}
	if err := f.WriteAudit(ctx, "batch-x", time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := db.Client.LLen(ctx, AuditKey("batch-x")).Val(); n != 2 {
		t.Fatalf("audit holds %d entries; want 2", n)
	}
	if ttl := db.Client.TTL(ctx, AuditKey("batch-x")).Val(); ttl < DefaultAuditTTL-time.Minute {
		t.Fatalf("audit TTL %v; want at least %v", ttl, DefaultAuditTTL)
	}
}

func TestBloomHoldsListed(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	var listed []string
	for range 20000 {
		listed = append(listed, FormatE164(8613000000000+r.Uint64N(1e10)))
	}
	if _, err := s.Add(ctx, "dnc", listed, time.Time{}); err != nil {
		t.Fatal(err)
	}
	b, err := s.LoadBloom(ctx, "dnc")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range listed {
		n, _ := ParseE164(p)
		if !b.MayHold(n) {
			t.Fatalf("filter misses listed %s", p)
		}
	}
	fp := 0
	for range 100000 {
		if b.MayHold(4915100000000 + r.Uint64N(1e9)) {
			fp++
		}
	}
	if fp > 100 { // 20,000 numbers in 2^27 bits: ~0.0001%
		t.Fatalf("%d false positives in 100000", fp)
	}
	empty, err := s.LoadBloom(ctx, "nothing")
	if err != nil || empty.MayHold(8613800138000) {
		t.Fatalf("empty list filter = %v, %v", empty.MayHold(8613800138000), err)
	}
}

func TestImporterBuffered(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	for _, buffer := range []int{97, 4999, 1 << 15} {
		list := fmt.Sprintf("buf-%d", buffer)
		im, err := s.NewImporter(list, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		im.Buffer = buffer // writes overlap the filling of the next buffer
		keys := make([]uint64, 30000)
		for i := range keys {
			keys[i] = 8613800000000 + uint64(i)*7
			if err := im.Add(ctx, keys[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := im.Add(ctx, keys[0]); err != nil { // a repeat is not new
			t.Fatal(err)
		}
		added, err := im.Close(ctx)
		if err != nil || added != int64(len(keys)) {
			t.Fatalf("Buffer %d: Close = %d, %v; want %d", buffer, added, err, len(keys))
		}
		got, err := s.CheckKeys(ctx, []string{list}, keys, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range got {
			if l != list {
				t.Fatalf("Buffer %d: number %d not listed", buffer, i)
			}
		}
		b, _ := s.LoadBloom(ctx, list)
		for _, n := range keys {
			if !b.MayHold(n) {
				t.Fatalf("Buffer %d: filter misses %d", buffer, n)
			}
		}
	}
}
