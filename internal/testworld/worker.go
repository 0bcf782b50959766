package testworld

import (
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/vendors"
)

// FastRetry is the worker's retry policy in tests: the same paths as in
// production, at millisecond scale so that a test takes seconds. It returns a
// copy, so a test that tunes it changes no other test.
func FastRetry() jobs.Retry {
	return jobs.Retry{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, Elapsed: 3 * time.Second,
		MaxInlineWait: time.Second, ThrottleCap: 100, RepeatCap: 5, AuthAttempts: 3, PauseRecheck: 200 * time.Millisecond}
}

// Deps builds the worker's dependencies for every vendor configured in env (a
// Vendor's Env), with FastRetry and log. The caller adds what its world needs
// (Lifecycle, Gate, Results).
func Deps(t testing.TB, env map[string]string, rdb *redis.Client, log *logrus.Logger) *jobs.Deps {
	t.Helper()
	d, _, err := jobs.ClientsFromEnv(Getenv(env), rdb, "configured")
	if err != nil {
		t.Fatal(err)
	}
	d.Retry = FastRetry()
	d.Log = logrus.NewEntry(log)
	return d
}

// Queue opens an asynq client and inspector on aopt, closed when the test ends.
func Queue(t testing.TB, aopt asynq.RedisClientOpt) (*asynq.Client, *asynq.Inspector) {
	c, insp := asynq.NewClient(aopt), asynq.NewInspector(aopt)
	t.Cleanup(func() { c.Close(); insp.Close() })
	return c, insp
}

// RetryDelay waits what the vendor asked for (Retry-After), else 100 ms: short
// enough for a test, while still exercising the vendor's back-off.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	if ra := vendors.RetryAfter(err); ra > 0 {
		return ra
	}
	return 100 * time.Millisecond
}

// ServerOptions are the in-process worker's settings: asynq checks for due and
// new tasks often, so that a test does not wait out its production intervals.
func ServerOptions() jobs.ServerOptions {
	return jobs.ServerOptions{
		Concurrency: 4, ShutdownTimeout: 5 * time.Second,
		DelayedTaskCheckInterval: 100 * time.Millisecond, TaskCheckInterval: 50 * time.Millisecond,
		RetryDelay: RetryDelay,
	}
}

// StartWorker runs an in-process asynq server with the jobs handlers on d (and
// whatever register adds to the mux) until stop or the test's end.
func StartWorker(t testing.TB, aopt asynq.RedisClientOpt, d *jobs.Deps, opt jobs.ServerOptions,
	register ...func(*asynq.ServeMux)) (srv *asynq.Server, stop func()) {
	t.Helper()
	mux := asynq.NewServeMux()
	jobs.Register(mux, d)
	for _, r := range register {
		r(mux)
	}
	srv = jobs.NewServer(aopt, d, opt)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(srv.Shutdown) }
	t.Cleanup(stop)
	return srv, stop
}
