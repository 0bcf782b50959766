package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/vendors/registry"
)

// importSink feeds ingest's accepted rows (NXCloud form: country code and number)
// to the importer, and the rows that are not valid numbers to -rejects.
type importSink struct {
	ctx     context.Context
	im      *compliance.Importer
	invalid int64
	rejects *rejectWriter
}

func (s *importSink) Accept(rec chunking.Record) error {
	n, err := compliance.ParseE164(rec.Phone)
	if err != nil {
		return err
	}
	return s.im.Add(s.ctx, n)
}

// Reject counts a row that is not a valid number; a duplicate is listed already.
func (s *importSink) Reject(r ingest.Reject) error {
	if r.Duplicate {
		return nil
	}
	s.invalid++
	if s.rejects != nil {
		return s.rejects.Write(r)
	}
	return nil
}

// suppressImport adds a list file's numbers to a list. A row that is not a valid
// number is not silently dropped: it is counted on stderr and, with -rejects,
// written out; with -strict nothing is imported when there is one (exit 3). The
// numbers are then held until the end, 8 bytes each, as the importer holds them.
func suppressImport(ctx context.Context, s *compliance.Store, f *suppressFlags, input string, expires time.Time, e env) error {
	started := time.Now()
	format, err := ingest.ParseFormat(f.format)
	if err != nil {
		return usageErr("-format: %v", err)
	}
	in, _, closeInput, err := openInput(input, e.stdin)
	if err != nil {
		return inputErr(err)
	}
	defer closeInput()
	src, err := ingest.Open(newStoppable(ctx, in), format)
	if err != nil {
		return inputErr(err)
	}
	im, err := s.NewImporter(f.list, expires)
	if err != nil {
		return usageErr("%v", err)
	}
	sink := &importSink{ctx: ctx, im: im}
	if f.strict {
		im.Buffer = math.MaxInt // nothing is written before Close
	}
	if f.rejects != "" {
		if sink.rejects, err = newRejectWriter(f.rejects); err != nil {
			return usageErr("-rejects: %v", err)
		}
		defer sink.rejects.Close()
	}
	counts, err := ingest.Run(ctx, src, ingest.Options{Vendor: registry.NXCloud, Region: f.region}, sink)
	if err == nil && sink.rejects != nil {
		if err = sink.rejects.Close(); err != nil {
			return inputErr(fmt.Errorf("-rejects: %w (nothing imported)", err))
		}
	}
	if err != nil {
		if f.strict {
			return inputErr(fmt.Errorf("import into %s: %w (nothing imported)", f.list, err))
		}
		// What was imported before the input broke off stays listed: a list only
		// gains numbers, and running the import again is harmless.
		_, _ = im.Close(context.WithoutCancel(ctx))
		return inputErr(fmt.Errorf("import into %s: %w (numbers before the error are listed)", f.list, err))
	}
	strictFail := f.strict && sink.invalid > 0
	var added int64
	if !strictFail {
		if added, err = im.Close(ctx); err != nil {
			return inputErr(err)
		}
	}
	imported := counts.Accepted
	if strictFail {
		imported = 0
	}
	secs := time.Since(started).Seconds()
	exp := ""
	if !expires.IsZero() {
		exp = expires.UTC().Format(time.RFC3339)
	}
	if err := report(e, f.jsonOut, map[string]any{
		"list": f.list, "read": counts.Read, "imported": imported, "added": added,
		"rejected": sink.invalid, "duplicates": counts.Duplicates, "rejects_file": f.rejects,
		"expires": exp, "seconds": secs,
	}, "%s: read %d, imported %d (%d new), %d invalid, %d duplicates in %.1fs\n",
		f.list, counts.Read, imported, added, sink.invalid, counts.Duplicates, secs); err != nil {
		return err
	}
	if sink.invalid > 0 {
		where := "rerun with -rejects FILE to list them"
		if f.rejects != "" {
			where = "listed in " + f.rejects
		}
		fmt.Fprintf(e.stderr, "%d rows are not valid numbers and were not imported (%s)\n", sink.invalid, where)
	}
	if strictFail {
		return &exitError{code: exitStrict, err: fmt.Errorf("-strict: %d rows are not valid numbers, nothing imported into %s", sink.invalid, f.list)}
	}
	return nil
}
