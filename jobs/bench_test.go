package jobs_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/quota"
)

// benchRedis is the Redis the delivery benchmark flushes: BENCH_REDIS_URL when
// set (a server it may flush; DB 10-14, away from the DBs tests claim), else a
// redis-server of the benchmark's own, started and stopped here.
func benchRedis(b *testing.B) string {
	if u := os.Getenv("BENCH_REDIS_URL"); u != "" {
		return u
	}
	return testredis.StartServer(b).URL()
}

// testClaim returns the live test process holding opt's DB (internal/testredis
// claims DBs lowest first with a key in DB 0), or 0: a benchmark must not flush a
// DB a test is using.
func testClaim(ctx context.Context, opt redis.Options) int {
	key := fmt.Sprintf("dialq:test:db:%d", opt.DB)
	opt.DB = 0
	c := redis.NewClient(&opt)
	defer c.Close()
	pid, err := strconv.Atoi(c.Get(ctx, key).Val())
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// BenchmarkDeliverYccall drives the part handler as the worker would, 20 parts at a
// time, against the fake vendor over loopback HTTP in this process: each iteration
// delivers 100,000 numbers in 10,000-number parts. Profile it to see where a
// worker's time goes (the fake's share shows under fakevendor):
//
//	go test -run '^$' -bench DeliverYccall -benchtime 5x -cpuprofile cpu.out ./jobs/
func BenchmarkDeliverYccall(b *testing.B) { benchDeliver(b, nil) }

// BenchmarkDeliverYccallQuota is the same delivery with YCCALL_QUOTA (a minute and
// a day) and YCCALL_INFLIGHT set high enough never to bind: the cost of taking,
// confirming and finishing the quotas on every call.
func BenchmarkDeliverYccallQuota(b *testing.B) {
	env := map[string]string{"YCCALL_QUOTA": "1000000000/1m,1000000000/24h", "YCCALL_INFLIGHT": "1000"}
	if q, ok := os.LookupEnv("BENCH_YCCALL_QUOTA"); ok {
		env["YCCALL_QUOTA"], env["YCCALL_INFLIGHT"] = q, os.Getenv("BENCH_YCCALL_INFLIGHT")
	}
	cfg, err := quota.FromEnv(func(k string) string { return env[k] }, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchDeliver(b, func(rdb redis.UniversalClient, d *jobs.Deps) { d.Quota = quota.New(rdb, cfg) })
}

func benchDeliver(b *testing.B, withQuota func(redis.UniversalClient, *jobs.Deps)) {
	const (
		numbers     = 100_000
		partSize    = 10_000
		concurrency = 20
	)
	ctx := context.Background()
	url := benchRedis(b)
	ropt, aopt, err := redisconf.Parse(url)
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("BENCH_REDIS_URL") != "" && ropt.DB < 10 {
		b.Fatalf("BENCH_REDIS_URL DB %d: benchmarks flush their DB, use 10-14", ropt.DB)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		b.Skipf("no Redis at %s: %v", redisconf.MaskURL(url), err)
	}
	if pid := testClaim(ctx, *ropt); pid != 0 {
		b.Skipf("Redis DB %d is claimed by test process %d: run the benchmark later", ropt.DB, pid)
	}
	defer rdb.FlushDB(ctx)

	srv := httptest.NewUnstartedServer(nil)
	env, err := fakevendor.DemoEnv("http://"+srv.Listener.Addr().String(), filepath.Join(b.TempDir(), "speech.pem"))
	if err != nil {
		b.Fatal(err)
	}
	lookup := func(k string) string { return env[k] }
	cfg, err := fakevendor.ConfigFromEnv(lookup)
	if err != nil {
		b.Fatal(err)
	}
	fake := fakevendor.New(cfg)
	srv.Config.Handler = fake
	srv.Start()
	defer srv.Close()

	d, _, err := jobs.ClientsFromEnv(lookup, rdb, "yccall")
	if err != nil {
		b.Fatal(err)
	}
	quiet := logrus.New()
	quiet.SetLevel(logrus.WarnLevel)
	d.Log = logrus.NewEntry(quiet)
	client, insp := asynq.NewClient(aopt), asynq.NewInspector(aopt)
	defer client.Close()
	defer insp.Close()
	d.Lifecycle = lifecycle.New(rdb, client, insp, d.Log)
	if withQuota != nil {
		withQuota(rdb, d)
	}
	mux := asynq.NewServeMux()
	jobs.Register(mux, d)

	campaignJSON, err := os.ReadFile(filepath.Join("..", "examples", "yccall.json"))
	if err != nil {
		b.Fatal(err)
	}
	c, err := producer.CampaignJSON("yccall", campaignJSON)
	if err != nil {
		b.Fatal(err)
	}
	profile, err := producer.Profile("yccall", partSize, 0)
	if err != nil {
		b.Fatal(err)
	}
	var list strings.Builder
	for i := range numbers {
		fmt.Fprintf(&list, "139%08d\n", i)
	}

	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		fake.Reset()
		sum, err := producer.Enqueue(ctx, rdb, aopt, strings.NewReader(list.String()), producer.Request{
			Vendor: "yccall", Region: "CN", Format: ingest.Lines, Campaign: c, Profile: profile, Source: "bench",
		})
		if err != nil {
			b.Fatal(err)
		}
		queued := make(chan *asynq.Task, sum.Parts)
		for n := range sum.Parts {
			t, err := queue.NewPartTask("yccall", sum.Batch, n, partSize)
			if err != nil {
				b.Fatal(err)
			}
			queued <- t
		}
		close(queued)
		b.StartTimer()

		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, sum.Parts)
		for range concurrency {
			wg.Go(func() {
				for t := range queued {
					if err := mux.ProcessTask(ctx, t); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)

		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		if got := len(fake.Ledger("yccall").Numbers); got != numbers {
			b.Fatalf("the vendor holds %d numbers; want %d", got, numbers)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(numbers*b.N)/elapsed.Seconds(), "numbers/s")
}
