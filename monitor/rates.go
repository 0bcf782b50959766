package monitor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// Rates are measured here, in memory, from samples of a batch's counters: Redis
// keeps counts, not their history. A sample is taken whenever a page or the API
// reads a batch, and every sampleEvery by the handler's sampler for the batches
// still running, so that a page opened late still has a chart. Each worker keeps
// its own samples; they die with the process.
var (
	// sampleEvery is the sampler's period; sampleBatches is how many recent
	// batches it looks at.
	sampleEvery   = 10 * time.Second
	sampleBatches = 20
	// sampleGap is the least time between two kept samples of a batch.
	sampleGap = 2 * time.Second
	// sampleKeep is how far back samples are kept (the chart's width).
	sampleKeep = 30 * time.Minute
	// rateWindow is the span the current rate is measured over.
	rateWindow = time.Minute
)

// rateSample is a batch's counters at one time.
type rateSample struct {
	At        time.Time `json:"at"`
	Delivered int64     `json:"delivered"`
	Settled   int64     `json:"settled"`
}

type rateBook struct {
	mu sync.Mutex
	m  map[string][]rateSample
}

func newRateBook() *rateBook { return &rateBook{m: map[string][]rateSample{}} }

// observe records a sample of batch id, dropping samples older than sampleKeep and
// batches not seen for that long.
func (rb *rateBook) observe(id string, at time.Time, delivered, settled int64) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	s := rb.m[id]
	if n := len(s); n > 0 && at.Sub(s[n-1].At) < sampleGap {
		return // too close to the last one to measure anything
	}
	s = append(s, rateSample{At: at, Delivered: delivered, Settled: settled})
	cut := 0
	for cut < len(s)-1 && at.Sub(s[cut].At) > sampleKeep {
		cut++
	}
	if cut > 0 {
		s = append(s[:0:0], s[cut:]...)
	}
	rb.m[id] = s
	for k, v := range rb.m {
		if len(v) > 0 && at.Sub(v[len(v)-1].At) > sampleKeep {
			delete(rb.m, k)
		}
	}
}

func (rb *rateBook) samples(id string) []rateSample {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return append([]rateSample(nil), rb.m[id]...)
}

// rate is numbers settled a second: while the batch runs, over the last rateWindow
// of samples when there are two at least sampleGap apart; else (and once it is
// over) the average from creation to now or to its end. The second value says which.
func (rb *rateBook) rate(st *ledger.Status, now time.Time) (float64, string) {
	s := rb.samples(st.Batch)
	if n := len(s); n >= 2 && !st.Finished && !st.Cancelled {
		last := s[n-1]
		first := s[0]
		for _, x := range s {
			if last.At.Sub(x.At) <= rateWindow {
				first = x
				break
			}
		}
		if first.At.Before(last.At) && last.At.Sub(first.At) >= sampleGap {
			return float64(last.Settled-first.Settled) / last.At.Sub(first.At).Seconds(), "sampled"
		}
	}
	end := now
	if st.FinishedAt != nil {
		end = *st.FinishedAt
	}
	done := settled(st)
	if st.Cancelled {
		// A cancel fails every number not sent at once: those were not delivered
		// at any rate. Failed numbers of a cancelled batch are left out.
		done -= st.Failed
	}
	if el := end.Sub(st.Created); el > 0 && done > 0 {
		return float64(done) / el.Seconds(), "average since created"
	}
	return 0, "none yet"
}

// sample reads the recent batches still running and records their counters.
func (p *pages) sample(ctx context.Context) {
	ids, err := p.br.List(ctx, sampleBatches)
	if err != nil {
		return // the pages show the error when someone looks
	}
	for _, id := range ids {
		st, err := p.br.Status(ctx, id)
		if err != nil || st.Finished || st.Cancelled {
			continue
		}
		p.rates.observe(id, p.now(), st.Delivered, settled(st))
	}
}

// runSampler samples every sampleEvery until ctx ends.
func (p *pages) runSampler(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		p.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// chart is the rate over time as SVG polylines, computed here so that the page
// needs no script to draw it.
type chart struct {
	// W and H are the SVG's size; the plot is PlotW by PlotH, with room for labels
	// left and below.
	W, H, PlotW, PlotH, LabelY int
	Settled, Deliver           string // polyline points
	Max                        float64
	From, To                   time.Time
	Points                     int
	YMaxLabel, XLabel          string
	// Idle is true when no number settled over the samples.
	Idle bool
}

// newChart plots the rate between consecutive samples; nil with fewer than three
// samples (two rates make a line worth drawing). Idle says nothing moved.
func newChart(s []rateSample) *chart {
	if len(s) < 3 {
		return nil
	}
	type pt struct {
		t    time.Time
		s, d float64
	}
	pts := make([]pt, 0, len(s)-1)
	peak := 0.0
	for i := 1; i < len(s); i++ {
		dt := s[i].At.Sub(s[i-1].At).Seconds()
		if dt <= 0 {
			continue
		}
		x := pt{t: s[i].At, s: float64(s[i].Settled-s[i-1].Settled) / dt, d: float64(s[i].Delivered-s[i-1].Delivered) / dt}
		peak = max(peak, x.s, x.d)
		pts = append(pts, x)
	}
	if len(pts) < 2 {
		return nil
	}
	c := &chart{W: 700, H: 170, PlotW: 640, PlotH: 130, From: s[0].At, To: s[len(s)-1].At, Points: len(pts), Max: peak}
	c.LabelY = c.PlotH + 16
	if peak == 0 {
		c.Idle = true
		peak = 1
	}
	span := c.To.Sub(c.From).Seconds()
	var sp, dp strings.Builder
	for _, x := range pts {
		px := float64(c.PlotW) * x.t.Sub(c.From).Seconds() / span
		fmt.Fprintf(&sp, "%.1f,%.1f ", px, float64(c.PlotH)*(1-x.s/peak))
		fmt.Fprintf(&dp, "%.1f,%.1f ", px, float64(c.PlotH)*(1-x.d/peak))
	}
	c.Settled, c.Deliver = strings.TrimSpace(sp.String()), strings.TrimSpace(dp.String())
	c.YMaxLabel = formatRate(c.Max)
	c.XLabel = c.To.Sub(c.From).Round(time.Second).String()
	return c
}
