// Package redislog routes go-redis's own log lines (pool dial failures, reconnects
// during a Redis outage, …) into the process's logrus logger, so that they arrive as
// JSON lines with the others instead of plain text on stderr.
//
// Install it once, before any client is built:
//
//	redis.SetLogger(redislog.New(log.WithField("component", "go-redis")))
package redislog

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/redact"
)

// Logger implements go-redis's logging interface (redis.SetLogger) on a logrus entry.
type Logger struct {
	entry *logrus.Entry
}

// New returns a Logger writing through entry.
func New(entry *logrus.Entry) *Logger { return &Logger{entry: entry} }

// Printf logs one go-redis line at warning level: go-redis only speaks when a
// connection or command went wrong, and the caller decides whether that is an
// error. The text goes through redact.Message: a failed command may echo its
// arguments, and those can be phone numbers.
func (l *Logger) Printf(ctx context.Context, format string, v ...any) {
	l.entry.WithContext(ctx).Warn(redact.Message(fmt.Sprintf(format, v...)))
}
