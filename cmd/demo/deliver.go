package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/vendors/registry"
)

// demo is one run: the batches it enqueued and where it reports.
type demo struct {
	out     io.Writer
	store   ledger.Reader
	fake    *fakevendor.Server
	started time.Time
	batches []*tracked
}

type tracked struct {
	vendor  string
	sum     *producer.Summary
	st      *ledger.Status
	settled bool
}

// deliver enqueues the example list to every vendor and waits until each batch
// settles.
func (d *demo) deliver(ctx context.Context, rdb redis.UniversalClient, aopt asynq.RedisConnOpt, dir string, partSize int) error {
	list := filepath.Join(dir, listFile)
	fmt.Fprintf(d.out, "\nEnqueueing %s to each vendor, %d numbers a part\n", list, partSize)
	for _, v := range registry.Names() {
		sum, err := enqueue(ctx, rdb, aopt, dir, v, partSize)
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", v, err)
		}
		note := ""
		if sum.Existing {
			note = "  (in this Redis already: nothing new queued)"
		}
		fmt.Fprintf(d.out, "  %-8s %s  read %d, accepted %d, rejected %d, %d parts%s\n",
			v, sum.Batch, sum.Read, sum.Accepted, sum.Rejected, sum.Parts, note)
		d.batches = append(d.batches, &tracked{vendor: v, sum: sum})
	}
	fmt.Fprintln(d.out, "\nProgress")
	return d.wait(ctx)
}

func enqueue(ctx context.Context, rdb redis.UniversalClient, aopt asynq.RedisConnOpt, dir, vendor string, partSize int) (*producer.Summary, error) {
	data, err := os.ReadFile(filepath.Join(dir, vendor+".json"))
	if err != nil {
		return nil, err
	}
	c, err := producer.CampaignJSON(vendor, data)
	if err != nil {
		return nil, err
	}
	callSize := 0
	if vendor == registry.Speech {
		// Speech's default call (1,000) is larger than the demo's part.
		callSize = partSize
	}
	p, err := producer.Profile(vendor, partSize, callSize)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, listFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return producer.Enqueue(ctx, rdb, aopt, f, producer.Request{
		Vendor: vendor, Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: "demo",
	})
}

// settled means nothing more will happen to the batch without an operator: it
// finished, or every number has an outcome and no part is queued or running (an
// uncertain part waits for `enqueue resolve`).
func settled(st *ledger.Status) bool {
	return st.Finished || (st.Pending == 0 && st.PartStates[ledger.PartQueued] == 0 && st.PartStates[ledger.PartRunning] == 0)
}

// wait polls the batches until all have settled, printing one line as each does
// and a reminder of what is still open every few seconds.
func (d *demo) wait(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastNote := time.Now()
	for {
		var open []string
		for _, b := range d.batches {
			if b.settled {
				continue
			}
			st, err := d.store.Status(ctx, b.sum.Batch)
			if err != nil {
				return err
			}
			b.st = st
			if !settled(st) {
				open = append(open, fmt.Sprintf("%s %d/%d parts final", b.vendor, finalParts(st), st.Parts))
				continue
			}
			b.settled = true
			fmt.Fprintf(d.out, "  [%5.1fs] %-8s %s: %d/%d parts done; %d delivered, %d refused, %d failed, %d uncertain\n",
				time.Since(d.started).Seconds(), b.vendor, st.State, st.PartStates[ledger.PartDone], st.Parts,
				st.Delivered, st.Refused, st.Failed, st.Uncertain)
		}
		if len(open) == 0 {
			return nil
		}
		if time.Since(lastNote) >= 5*time.Second {
			fmt.Fprintf(d.out, "  [%5.1fs] waiting: %s\n", time.Since(d.started).Seconds(), strings.Join(open, ", "))
			lastNote = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func finalParts(st *ledger.Status) int {
	return st.PartStates[ledger.PartDone] + st.PartStates[ledger.PartFailed] + st.PartStates[ledger.PartCancelled]
}
