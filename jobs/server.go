package jobs

import (
	"time"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"
)

// ServerOptions are the settings that differ between the worker, the demo and tests.
type ServerOptions struct {
	Concurrency int
	// Queues: nil means the control queue and the served vendors' own (Queues).
	Queues          map[string]int
	ShutdownTimeout time.Duration
	// DelayedTaskCheckInterval and TaskCheckInterval: zero keeps asynq's defaults.
	DelayedTaskCheckInterval time.Duration
	TaskCheckInterval        time.Duration
	// RetryDelay: nil means RetryDelay.
	RetryDelay asynq.RetryDelayFunc
}

// NewServer builds the asynq server that runs the handlers Register adds, with
// dialq's retry policy: Retry-After honoured, throttling not counted as failure,
// exhausted parts settled as failed.
func NewServer(r asynq.RedisConnOpt, d *Deps, opt ServerOptions) *asynq.Server {
	d.defaults()
	delay := opt.RetryDelay
	if delay == nil {
		delay = RetryDelay
	}
	// The engine picks a failed part's retry time with the same function, so that
	// the time status shows as `retrying` is the time asynq runs it.
	d.retryDelay = delay
	queues := opt.Queues
	if len(queues) == 0 {
		queues = Queues(d, 6, 3)
	}
	return asynq.NewServer(r, asynq.Config{
		Concurrency:              opt.Concurrency,
		Queues:                   queues,
		ShutdownTimeout:          opt.ShutdownTimeout,
		RetryDelayFunc:           delay,
		IsFailure:                IsFailure,
		ErrorHandler:             ErrorHandler(d),
		DelayedTaskCheckInterval: opt.DelayedTaskCheckInterval,
		TaskCheckInterval:        opt.TaskCheckInterval,
		Logger:                   d.Log.WithField("component", "asynq"),
		LogLevel:                 asynqLevel(d.Log.Logger.GetLevel()),
	})
}

func asynqLevel(l logrus.Level) asynq.LogLevel {
	switch {
	case l >= logrus.DebugLevel:
		return asynq.DebugLevel
	case l >= logrus.InfoLevel:
		return asynq.InfoLevel
	case l >= logrus.WarnLevel:
		return asynq.WarnLevel
	default:
		return asynq.ErrorLevel
	}
}
