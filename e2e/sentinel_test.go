package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/vendors/registry"
)

// TestSentinelFailoverDuringDelivery: enqueue and two workers reach Redis through
// three sentinels; mid-delivery the master is failed over (SENTINEL FAILOVER), or
// SIGKILLed and restarted after the promotion as a supervisor would (delivery
// pauses while the new master has no replica to confirm marks on), and the
// batches finish without restarting any dialq process, every number in one state
// and none twice at the fake vendor.
func TestSentinelFailoverDuringDelivery(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(map[bool]string{false: "sentinel failover", true: "master killed"}[kill], func(t *testing.T) {
			if kill && testing.Short() {
				t.Skip("a second run of a minute or two")
			}
			sentinelFailover(t, kill)
		})
	}
}

func sentinelFailover(t *testing.T, kill bool) {
	set := testredis.StartSentinel(t, testredis.Durable...)
	w := newWorld(t, &testredis.DB{Real: true}, nil, nil)
	delete(w.env, "REDIS_URL")
	w.env["REDIS_SENTINEL_ADDRS"] = strings.Join(set.Addrs, ",")
	w.env["REDIS_SENTINEL_MASTER"] = set.MasterName
	w.env["DIALQ_ALLOW_VOLATILE_REDIS"] = "false"
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 40})
	const n = 3000
	phones := numbers(n, 700000)
	list := strings.Join(phones, "\n") + "\n"
	ids := map[string]string{}
	for _, v := range registry.Names() {
		ids[v] = w.enqueue(v, list, "-part-size", "200")["batch"].(string)
	}
	workers := []*worker{w.startWorker(), w.startWorker()}

	deadline := time.Now().Add(60 * time.Second)
	for {
		started := 0
		for _, v := range registry.Names() {
			if len(w.fake.Ledger(v).Numbers) > 0 {
				started++
			}
		}
		if started == len(registry.Names()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workers delivered nothing through sentinel")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if kill {
		set.KillMaster()
		set.Revive()
	} else {
		set.Failover()
	}
	t.Logf("failed over with %d nxcloud numbers delivered", len(w.fake.Ledger(registry.NXCloud).Numbers))

	for _, v := range registry.Names() {
		st := w.waitSettled(ids[v], 3*time.Minute)
		got := int64(w.noneTwice(v))
		if st.Delivered+st.Uncertain != n || st.Failed+st.Refused != 0 || st.Pending != 0 {
			t.Errorf("%s: status %+v; want all %d delivered or uncertain", v, st, n)
		}
		if got < st.Delivered || got > st.Delivered+st.Uncertain {
			t.Errorf("%s: fake ledger holds %d; batch says delivered %d, uncertain %d", v, got, st.Delivered, st.Uncertain)
		}
		t.Logf("%s through a failover: delivered %d, uncertain %d, fake ledger %d", v, st.Delivered, st.Uncertain, got)
	}
	for i, wk := range workers {
		select {
		case <-wk.done:
			t.Errorf("worker %d exited during the failover: %v", i, wk.err)
		default:
		}
	}
}
