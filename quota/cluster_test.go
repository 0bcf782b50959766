package quota

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
)

// On a Redis Cluster with a replica a master, every key a take touches is in the
// vendor's slot (no CROSSSLOT), and each take is confirmed on that slot's master
// (WAITAOF + WAIT), as the in-flight marks are.
func TestTakeOnCluster(t *testing.T) {
	cl := testredis.StartCluster(t, 3, 1, testredis.Durable...)
	rdb := cl.Client()
	ctx := context.Background()
	d, err := redisconf.CheckDurability(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	confirm := redisconf.NewConfirmer(d, 2*time.Second)
	if !confirm.WaitReplica {
		t.Fatalf("confirmer %s: want WAIT on a cluster with replicas", confirm)
	}
	env := map[string]string{"NXCLOUD_QUOTA": "100/1m,300/1d", "NXCLOUD_INFLIGHT": "2", "FLASHAI_QUOTA": "50/10s"}
	cfg, err := FromEnv(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := New(rdb, cfg, WithConfirmer(confirm.For(rdb)))
	a, err := l.Take(ctx, "nxcloud", 70, 0)
	if err != nil || a.N != 70 {
		t.Fatalf("take: %+v %v", a, err)
	}
	b, err := l.Take(ctx, "nxcloud", 70, 0)
	if err != nil || b.N != 30 {
		t.Fatalf("second take: %+v %v; want cut to 30", b, err)
	}
	var w *Wait
	if _, err := l.Take(ctx, "nxcloud", 1, 0); !errors.As(err, &w) {
		t.Fatalf("third take: %v; want a wait (slots and the minute used)", err)
	}
	if err := l.GiveBack(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(ctx, a); err != nil {
		t.Fatal(err)
	}
	if f, err := l.Take(ctx, "flashai", 60, 0); err != nil || f.N != 50 {
		t.Fatalf("flashai take: %+v %v", f, err)
	}
	use, err := l.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, v := range use {
		for _, wu := range v.Windows {
			got[v.Vendor+" "+wu.Window] = wu.Used
		}
		got[v.Vendor+" inflight"] = v.Inflight
	}
	want := map[string]int64{"flashai 10s": 50, "flashai inflight": 0, "nxcloud 1m": 70, "nxcloud 24h": 70, "nxcloud inflight": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s used %d; want %d (all: %v)", k, got[k], v, got)
		}
	}
}
