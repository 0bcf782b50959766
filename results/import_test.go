package results_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/results"
)

func TestImport(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{}, time.Hour, time.Hour)
	w.fake.Refuse("blocked", "13900000049")
	w.start()
	sum, phones := w.enqueueTo("yccall", 50, 20)
	w.waitDelivered(sum.Batch)
	ctx := context.Background()
	cols := results.ImportColumns{Phone: "Mobile", Disposition: "Result", Duration: "Secs", AnsweredAt: "duration_s", IntentTag: "Tag"}

	badFile := "Mobile,Result,Secs,Tag\n" +
		"+86 139 0000 0001,answered,30,A\n" + // line 2: good
		"13900000002,maybe,,\n" + // 3: disposition
		"13800009999,answered,3,\n" + // 4: not in the batch
		"13900000049,not_answered,,\n" + // 5: refused by the vendor
		"008613900000001,not_called,,\n" + // 6: repeat of line 2
		"13900000003,not_answered,12,\n" + // 7: not answered with a duration
		"12,answered,,\n" // 8: not a number
	_, err := results.Import(ctx, w.batches, w.results, sum.Batch, strings.NewReader(badFile), cols)
	var ie *results.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("Import = %v; want an ImportError", err)
	}
	var lines []int64
	for _, r := range ie.Rows {
		lines = append(lines, r.Line)
	}
	if diff := cmp.Diff([]int64{3, 4, 5, 6, 7, 8}, lines); diff != "" {
		t.Errorf("refused lines (-want +got):\n%s\n%v", diff, ie)
	}
	if s, _ := w.results.Summary(ctx, sum.Batch); s.Final() != 0 {
		t.Errorf("a refused import stored %+v", s.Counts)
	}

	var good strings.Builder
	good.WriteString("Tag,Mobile,Result,Secs\n")
	want := map[string]string{}
	for i, ph := range phones[:40] {
		d := []string{"answered", "not_answered", "not_called"}[i%3]
		secs := ""
		if d == "answered" {
			secs = "20"
		}
		tag := "B"
		if i == 0 {
			tag = "=HYPERLINK(1)"
		}
		fmt.Fprintf(&good, "%s,+86%s,%s,%s\n", tag, ph, d, secs)
		want[ph] = d
	}
	for _, ph := range phones[40:49] {
		want[ph] = "pending"
	}
	got, err := results.Import(ctx, w.batches, w.results, sum.Batch, strings.NewReader(good.String()), cols)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != 40 || got.Answered != 14 || got.NotAnswered != 13 || got.NotCalled != 13 {
		t.Errorf("imported %+v", got)
	}
	if diff := cmp.Diff(want, w.collected(sum.Batch)); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}
	// The export's CSV defuses formulas with the cell rule it is given.
	var buf bytes.Buffer
	wr, err := results.NewWriter(&buf, "csv", func(s string) string {
		if strings.HasPrefix(s, "=") {
			return "'" + s
		}
		return s
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := results.Export(ctx, w.batches, w.results, sum.Batch, wr.Write); err != nil {
		t.Fatal(err)
	}
	if err := wr.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, strings.Join(results.Columns, ",")+"\n") || !strings.Contains(out, ",'=HYPERLINK(1),") ||
		wr.Rows() != 49 || !strings.Contains(out, "13900000000,yccall,"+sum.Batch+",1,") {
		t.Errorf("export CSV (%d rows):\n%s", wr.Rows(), out[:min(len(out), 600)])
	}
	// A FlashAI batch is polled, not imported.
	fsum, _ := w.enqueueTo("flashai", 3, 3)
	if _, err := results.Import(ctx, w.batches, w.results, fsum.Batch, strings.NewReader("phone,disposition\n"), results.DefaultImportColumns); err == nil {
		t.Error("a FlashAI batch took an import")
	}
}
