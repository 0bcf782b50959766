package main

import (
	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/results"
)

// importRedialer sends the redials of every vendor the worker serves (campaigns'
// recycle rules); FlashAI's client is set by the caller when served. A nil
// client stays a nil interface: that vendor is not redialled here.
func importRedialer(deps *jobs.Deps, st *results.Store, client *asynq.Client, log *logrus.Entry) *results.Redialer {
	rd := &results.Redialer{Batches: deps.Lifecycle, Results: st, Queue: client, Gate: deps.Gate, Limiter: deps.Limiter,
		Quota: deps.Quota}
	if log != nil {
		rd.Log = log.WithField("component", "results")
	}
	if deps.NXCloud != nil {
		rd.NXCloud = deps.NXCloud
	}
	if deps.Yccall != nil {
		rd.Yccall = deps.Yccall
	}
	if deps.Speech != nil {
		rd.Speech = deps.Speech
	}
	return rd
}
