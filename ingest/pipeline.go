package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/dialq/dialq/chunking"
)

// Reject is a row that will not be delivered, with the reason.
type Reject struct {
	Line   int64
	Raw    string
	Reason string
	// Duplicate: the row repeats an earlier number (Reason names its line).
	Duplicate bool
}

// Sink receives the outcome of every row, in input order.
type Sink interface {
	Accept(rec chunking.Record) error
	Reject(r Reject) error
}

// Counts is what happened to the rows: Read = Accepted + Rejected, always.
// Duplicates are counted within Rejected too.
type Counts struct {
	Read       int64 `json:"read"`
	Accepted   int64 `json:"accepted"`
	Rejected   int64 `json:"rejected"`
	Duplicates int64 `json:"duplicates"`
}

// Options configure Run.
type Options struct {
	Vendor string
	Region string
	// Workers validate in parallel; 0 means one per CPU. Validation is the cost.
	Workers int
	// Progress, if set, is called after each block with the rows read so far.
	Progress func(read int64)
	// RowCheck, if set, refuses a valid row with a reason ("" keeps it): what the
	// vendor's tenant cannot take (preflight). It runs on the validating goroutines.
	RowCheck func(chunking.Record) string
}

const blockRows = 512

type block struct {
	seq  int
	rows []Row
	out  []validated
}

type validated struct {
	key    uint64
	rec    chunking.Record
	reason string
}

// Run reads every row of src, validates rows in parallel, and hands each outcome to
// sink in input order: duplicates are judged in order, so the first occurrence wins.
// It returns an *InputError when the input breaks off; sink has then seen a prefix.
func Run(ctx context.Context, src *Source, opt Options, sink Sink) (Counts, error) {
	norm, err := NewNormaliser(opt.Vendor, opt.Region)
	if err != nil {
		return Counts{}, err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	todo := make(chan *block, workers*2)
	done := make(chan *block, workers*2)
	// free hands consumed blocks back to the reader: a block's two arrays are
	// 140 KB, and allocating them afresh for every 512 rows made the garbage
	// collector a visible share of enqueue's CPU.
	free := make(chan *block, workers*4+2)
	src.stopOn(ctx)
	var readErr error
	go func() {
		defer close(todo)
		readErr = readBlocks(ctx, src, todo, free)
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				if cap(b.out) < len(b.rows) {
					b.out = make([]validated, len(b.rows))
				}
				b.out = b.out[:len(b.rows)]
				for i := range b.rows {
					b.out[i] = validate(norm, opt.Vendor, &b.rows[i])
					if opt.RowCheck != nil && b.out[i].reason == "" {
						b.out[i].reason = opt.RowCheck(b.out[i].rec)
					}
				}
				select {
				case done <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	var c Counts
	dedup := NewDedup()
	pending := map[int]*block{}
	next := 0
	for {
		// A reader blocked in a read (a terminal, a silent pipe) is left behind
		// when ctx is done: the caller is stopping.
		var b *block
		select {
		case b = <-done:
		case <-ctx.Done():
			return c, ctx.Err()
		}
		if b == nil {
			break
		}
		pending[b.seq] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err := c.consume(b, dedup, sink); err != nil {
				cancel()
				for range done { // let the workers finish
				}
				return c, err
			}
			if opt.Progress != nil {
				opt.Progress(c.Read)
			}
			// The sink took its records by value: the arrays can be reused. Clear
			// them so they do not keep this block's strings alive.
			clear(b.rows)
			clear(b.out)
			b.rows, b.out = b.rows[:0], b.out[:0]
			select {
			case free <- b:
			default:
			}
		}
	}
	if readErr != nil {
		return c, readErr
	}
	return c, ctx.Err()
}

func (c *Counts) consume(b *block, dedup *Dedup, sink Sink) error {
	for i, v := range b.out {
		row := &b.rows[i]
		c.Read++
		reason := v.reason
		if reason == "" {
			if first, added := dedup.Add(v.key, row.Line); !added {
				reason = fmt.Sprintf("duplicate of line %d", first)
				c.Duplicates++
			}
		}
		if reason != "" {
			c.Rejected++
			if err := sink.Reject(Reject{Line: row.Line, Raw: row.Phone, Reason: reason, Duplicate: v.reason == ""}); err != nil {
				return err
			}
			continue
		}
		c.Accepted++
		if err := sink.Accept(v.rec); err != nil {
			return err
		}
	}
	return nil
}

func readBlocks(ctx context.Context, src *Source, todo chan<- *block, free <-chan *block) error {
	seq := 0
	newBlock := func() *block {
		select {
		case b := <-free:
			b.seq = seq
			return b
		default:
			return &block{seq: seq, rows: make([]Row, 0, blockRows)}
		}
	}
	b := newBlock()
	send := func() bool {
		select {
		case todo <- b:
			seq++
			b = newBlock()
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		row, err := src.Next()
		if errors.Is(err, io.EOF) {
			if len(b.rows) > 0 {
				send()
			}
			return nil
		}
		if err != nil {
			if len(b.rows) > 0 {
				send()
			}
			return err
		}
		b.rows = append(b.rows, row)
		if len(b.rows) == blockRows && !send() {
			return ctx.Err()
		}
	}
}

func validate(norm *Normaliser, vendor string, row *Row) validated {
	if row.Problem != "" {
		return validated{reason: row.Problem}
	}
	key, phone, reason := norm.Normalise(row.Phone)
	if reason != "" {
		return validated{reason: reason}
	}
	rec := chunking.Record{
		Line: row.Line, Phone: phone, Name: row.Name, CustomerID: row.CustomerID,
		Attach: row.Attach, Company: row.Company, Params: row.Params,
	}
	if reason := checkFields(vendor, &rec); reason != "" {
		return validated{reason: reason}
	}
	return validated{key: key, rec: rec}
}
