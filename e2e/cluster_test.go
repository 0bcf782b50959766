package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/vendors/registry"
)

// clusterWorld is a world whose programs reach a 3-master Redis Cluster (AOF,
// appendfsync always) through REDIS_CLUSTER_ADDRS, with the durability check on.
func clusterWorld(t *testing.T) *world {
	t.Helper()
	cl := testredis.StartCluster(t, 3, 0, testredis.Durable...)
	w := newWorld(t, &testredis.DB{Real: true}, nil, nil)
	delete(w.env, "REDIS_URL")
	w.env["REDIS_CLUSTER_ADDRS"] = strings.Join(cl.Addrs, ",")
	// Every master is durable: the worker must start without the override.
	w.env["DIALQ_ALLOW_VOLATILE_REDIS"] = "false"
	return w
}

// TestClusterAllVendors runs the enqueue binary and two worker processes on a
// Redis Cluster, kills one worker mid-delivery (SIGKILL), and checks that every
// number of every vendor ends in exactly one state and none reached the fake
// vendor twice.
func TestClusterAllVendors(t *testing.T) {
	w := clusterWorld(t)
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 40})
	const n = 3000
	phones := numbers(n, 500000)
	list := "phone,name\n" + strings.Join(phones, ",x\n") + ",x\n" + "12345,bad\n"
	ids := map[string]string{}
	for _, v := range registry.Names() {
		sum := w.enqueue(v, list, "-part-size", "300")
		if sum["accepted"].(float64) != n || sum["rejected"].(float64) != 1 {
			t.Fatalf("%s summary %v", v, sum)
		}
		ids[v] = sum["batch"].(string)
	}
	first, second := w.startWorker(), w.startWorker()
	_ = second

	// Kill the first worker once every vendor has taken some numbers.
	killed := !testing.Short()
	if killed {
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
				t.Fatal("the workers delivered nothing on the cluster")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-first.done
	}
	for _, v := range registry.Names() {
		// A killed worker's part comes back when asynq's lease expires (≈1-2 min).
		st := w.waitSettled(ids[v], 4*time.Minute)
		got := int64(w.noneTwice(v))
		if st.Delivered+st.Uncertain != n || st.Failed+st.Refused != 0 || st.Rejected != 1 || st.Pending != 0 {
			t.Errorf("%s: status %+v; want all %d delivered or uncertain", v, st, n)
		}
		if got < st.Delivered || got > st.Delivered+st.Uncertain {
			t.Errorf("%s: fake ledger holds %d; batch says delivered %d, uncertain %d", v, got, st.Delivered, st.Uncertain)
		}
		if !killed && st.Uncertain != 0 {
			t.Errorf("%s: %d uncertain without a kill", v, st.Uncertain)
		}
		t.Logf("%s on the cluster: delivered %d, uncertain %d, fake ledger %d", v, st.Delivered, st.Uncertain, got)
	}
}
