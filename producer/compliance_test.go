package producer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/testredis"
)

// TestGateCost is the README's enqueue benchmark: DIALQ_GATE_ROWS rows (e.g.
// 1000000, a tenth of them listed) enqueued beside a DIALQ_GATE_LIST-number
// suppression list (e.g. 10000000), with and without the gate, alternately.
// Skipped unless both are set.
func TestGateCost(t *testing.T) {
	rows, _ := strconv.Atoi(os.Getenv("DIALQ_GATE_ROWS"))
	listSize, _ := strconv.Atoi(os.Getenv("DIALQ_GATE_LIST"))
	if rows == 0 || listSize == 0 {
		t.Skip("set DIALQ_GATE_ROWS=1000000 DIALQ_GATE_LIST=10000000 to measure")
	}
	testredis.RequireReal(t)
	db := testredis.New(t)
	ctx := context.Background()
	store := compliance.NewStore(db.Client)
	r := rand.New(rand.NewPCG(11, 12))
	im, err := store.NewImporter("dnc", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	listed := make([]uint64, 0, rows/10)
	start := time.Now()
	for i := range listSize {
		n := 13000000000 + r.Uint64N(1e9) // 130-139: valid CN mobiles
		if i < rows/10 {
			listed = append(listed, n)
		}
		if err := im.Add(ctx, 8600000000000+n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := im.Close(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("list of %d imported in %v", listSize, time.Since(start).Round(time.Millisecond))
	var in bytes.Buffer
	for i := range rows {
		n := 13000000000 + r.Uint64N(1e9) // 130-139: valid CN mobiles
		if i%10 == 0 {
			n = listed[i/10]
		}
		in.WriteString(strconv.FormatUint(n, 10))
		in.WriteByte('\n')
	}
	base, err := os.ReadFile("../examples/yccall.json")
	if err != nil {
		t.Fatal(err)
	}
	gated := []byte(strings.Replace(string(base), "{", `{"compliance": {"suppress": ["dnc"]},`, 1))
	aopt := asynq.RedisClientOpt{Addr: db.Opt.Addr, Password: db.Opt.Password, DB: db.Opt.DB}
	profile, err := Profile("yccall", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Wall time varies with the machine's other load; CPU time spent (this process
	// and Redis, which the gate also makes work) varies far less.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		d := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		for _, l := range strings.Split(db.Client.Info(ctx, "cpu").Val(), "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
				f, _ := strconv.ParseFloat(v, 64)
				d += time.Duration(f * float64(time.Second))
			}
		}
		return d
	}
	times, cpus := map[bool]time.Duration{}, map[bool]time.Duration{}
	// Round 0 warms up (page cache, Redis allocations) and is not counted.
	for round := range 7 {
		gate := round%2 == 0 && round > 0
		camp := base
		if gate {
			camp = gated
		}
		cj, err := CampaignJSON("yccall", camp)
		if err != nil {
			t.Fatal(err)
		}
		req := Request{Vendor: "yccall", Region: "CN", Format: ingest.Lines, Campaign: cj, Profile: profile,
			BatchID: fmt.Sprintf("bench-%d", round)}
		start, cpu0 := time.Now(), cpu()
		sum, err := Enqueue(ctx, db.Client, aopt, bytes.NewReader(in.Bytes()), req)
		if err != nil {
			t.Fatal(err)
		}
		el, used := time.Since(start), cpu()-cpu0
		if round > 0 {
			times[gate] += el
			cpus[gate] += used
		}
		t.Logf("gate %v: %d rows in %v (%.0f rows/s), CPU %v, accepted %d, rejected %d, suppressed %d",
			gate, sum.Read, el.Round(time.Millisecond), float64(sum.Read)/el.Seconds(), used.Round(time.Millisecond),
			sum.Accepted, sum.Rejected, sum.Suppressed)
		// A tenth of the rows are listed; random rows hit the list too.
		if gate && sum.Suppressed < int64(rows/10)-int64(rows/100) {
			t.Errorf("suppressed %d; want at least about %d", sum.Suppressed, rows/10)
		}
		if !gate && sum.Suppressed != 0 {
			t.Errorf("suppressed %d without a gate", sum.Suppressed)
		}
	}
	t.Logf("gate cost: wall %+.1f%%, CPU (enqueue + Redis) %+.1f%%",
		100*(times[true].Seconds()/times[false].Seconds()-1), 100*(cpus[true].Seconds()/cpus[false].Seconds()-1))
}
