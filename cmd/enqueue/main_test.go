package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/queue"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/producer"
)

const (
	examples    = "../../examples"
	listCSV     = examples + "/list.csv"
	badInput    = "../../testdata/badinput"
	unreachable = "redis://127.0.0.1:1/0"
)

func campaignFile(vendor string) string { return examples + "/" + vendor + ".json" }

type result struct {
	code           int
	stdout, stderr string
}

// runWith drives the command in-process as main does, with vars as its environment.
func runWith(t *testing.T, vars map[string]string, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	e := env{
		stdin: bytes.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) string { return vars[k] },
	}
	code := exitCode(run(ctx, args, e), &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

type harness struct {
	t  *testing.T
	db *testredis.DB
}

func setup(t *testing.T) *harness {
	t.Helper()
	return &harness{t: t, db: testredis.New(t)}
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return runWith(h.t, map[string]string{"REDIS_URL": h.db.URL}, nil, args...)
}

func (h *harness) runStdin(stdin []byte, args ...string) result {
	h.t.Helper()
	return runWith(h.t, map[string]string{"REDIS_URL": h.db.URL}, stdin, args...)
}

// keys lists every key in the test database.
func (h *harness) keys() []string {
	h.t.Helper()
	keys, err := h.db.Client.Keys(context.Background(), "*").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

func (h *harness) wantNoKeys() {
	h.t.Helper()
	if keys := h.keys(); len(keys) > 0 {
		h.t.Errorf("Redis holds %d keys; want none: %q", len(keys), keys)
	}
}

func (h *harness) inspector() *asynq.Inspector {
	h.t.Helper()
	_, aopt, err := redisconf.Parse(h.db.URL)
	if err != nil {
		h.t.Fatal(err)
	}
	insp := asynq.NewInspector(aopt)
	h.t.Cleanup(func() { insp.Close() })
	return insp
}

func wantCode(t *testing.T, r result, code int, stderr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, stderr) {
		t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, code, stderr)
	}
}

// summaryOf decodes the -json summary, checking the fields scripts rely on.
func summaryOf(t *testing.T, r result) producer.Summary {
	t.Helper()
	var fields map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &fields); err != nil {
		t.Fatalf("stdout %q: %v", r.stdout, err)
	}
	for _, k := range []string{"batch", "vendor", "read", "accepted", "rejected", "duplicates", "parts", "enqueued", "already_queued", "existing"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("-json summary has no %q: %s", k, r.stdout)
		}
	}
	var s producer.Summary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// campaignWith is vendor's example campaign with field set to v.
func campaignWith(t *testing.T, vendor, field string, v any) string {
	t.Helper()
	data, err := os.ReadFile(campaignFile(vendor))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m[field] = v
	data, _ = json.Marshal(m)
	return writeFile(t, vendor+".json", data)
}

func TestUsageErrors(t *testing.T) {
	h := setup(t)
	yc := campaignFile("yccall")
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no input", []string{"-vendor", "yccall", "-campaign", yc}, "want exactly one input"},
		{"two inputs", []string{"-vendor", "yccall", "-campaign", yc, listCSV, listCSV}, "want exactly one input"},
		{"unknown flag", []string{"-vendr", "yccall", listCSV}, "flag provided but not defined: -vendr"},
		{"missing vendor", []string{"-campaign", yc, listCSV}, "-vendor is required"},
		{"unknown vendor", []string{"-vendor", "acme", "-campaign", yc, listCSV}, `unknown vendor "acme"`},
		{"missing campaign", []string{"-vendor", "yccall", listCSV}, "-campaign is required"},
		{"campaign not found", []string{"-vendor", "yccall", "-campaign", "nope.json", listCSV}, "-campaign: open nope.json"},
		{"campaign of another vendor", []string{"-vendor", "yccall", "-campaign", campaignFile("flashai"), listCSV}, "unknown field"},
		{"bad campaign field", []string{"-vendor", "flashai", "-campaign", campaignWith(t, "flashai", "call_hours", []int{8}), listCSV}, "campaign field call_hours: hour 8 outside 9-20"},
		{"misspelt campaign field", []string{"-vendor", "yccall", "-campaign", campaignWith(t, "yccall", "task_nmae", "x"), listCSV}, `unknown field "task_nmae"`},
		{"bad batch id", []string{"-vendor", "yccall", "-campaign", yc, "-batch", "a b", listCSV}, `-batch "a b"`},
		{"batch id too long", []string{"-vendor", "yccall", "-campaign", yc, "-batch", strings.Repeat("a", 65), listCSV}, "-batch"},
		{"bad format", []string{"-vendor", "yccall", "-campaign", yc, "-format", "xml", listCSV}, `-format: format "xml"`},
		{"bad region", []string{"-vendor", "yccall", "-campaign", yc, "-region", "XX", listCSV}, `-region: region "XX"`},
		{"yccall part size", []string{"-vendor", "yccall", "-campaign", yc, "-part-size", "10001", listCSV}, "part size 10001 exceeds the vendor's 10,000"},
		{"speech part size", []string{"-vendor", "speech", "-campaign", campaignFile("speech"), "-part-size", "20001", listCSV}, "part size 20001 exceeds"},
		{"speech call size", []string{"-vendor", "speech", "-campaign", campaignFile("speech"), "-call-size", "1001", listCSV}, "call size 1001 exceeds"},
		{"call size over part size", []string{"-vendor", "yccall", "-campaign", yc, "-part-size", "10", "-call-size", "20", listCSV}, "call size 20 exceeds part size 10"},
		{"negative part size", []string{"-vendor", "yccall", "-campaign", yc, "-part-size", "-5", listCSV}, "-part-size -5"},
		{"negative workers", []string{"-vendor", "yccall", "-campaign", yc, "-workers", "-1", listCSV}, "-workers -1"},
		{"retention", []string{"-vendor", "yccall", "-campaign", yc, "-retention", "-1h", listCSV}, "-retention"},
		{"bad redis url", []string{"-vendor", "yccall", "-campaign", yc, "-redis", "http://localhost", listCSV}, "REDIS_URL is not a redis://"},
		{"status without batch", []string{"status"}, "usage: enqueue status"},
		{"status of no batch", []string{"status", "nope"}, "batch not found"},
		{"failures of no batch", []string{"failures", "nope"}, "batch not found"},
		{"cancel of no batch", []string{"cancel", "nope"}, "batch not found"},
		{"resolve bad verdict", []string{"resolve", "b", "0", "maybe"}, "usage: enqueue resolve"},
		{"resolve bad part", []string{"resolve", "b", "x", "resend"}, `PART must be a part number, got "x"`},
		{"control bad action", []string{"control", "jump", "b"}, `control action "jump"`},
		{"delete without numbers", []string{"delete", "b"}, "usage: enqueue delete"},
		{"status bad flag", []string{"status", "-nope", "b"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, h.run(tt.args...), exitUsage, tt.stderr)
		})
	}
	h.wantNoKeys()
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}} {
		r := runWith(t, nil, nil, args...)
		if r.code != exitOK || !strings.Contains(r.stdout+r.stderr, "-vendor") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 0 and the usage", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestInputUnreadable(t *testing.T) {
	h := setup(t)
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	for _, input := range []string{"no-such-file.csv", t.TempDir()} {
		r := h.run("-vendor", "yccall", "-campaign", campaignFile("yccall"), "-rejects", rejects, input)
		wantCode(t, r, exitInput, "input")
	}
	h.wantNoKeys()
	// The input (CSV without a phone column) refused as a whole.
	r := h.run("-vendor", "yccall", "-campaign", campaignFile("yccall"), badInput+"/no_phone_column.csv")
	wantCode(t, r, exitInput, "no phone column")
	h.wantNoKeys()
}

func TestRedisUnreachable(t *testing.T) {
	vars := map[string]string{"REDIS_URL": unreachable}
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	r := runWith(t, vars, nil, "-vendor", "yccall", "-campaign", campaignFile("yccall"), "-rejects", rejects, listCSV)
	wantCode(t, r, exitInput, "redis unreachable at 127.0.0.1:1")
	if r.stdout != "" {
		t.Errorf("stdout %q; want nothing", r.stdout)
	}
	// Nothing was read, so nothing written: not even the rejects file.
	if _, err := os.Stat(rejects); !os.IsNotExist(err) {
		t.Errorf("rejects file: %v; want none", err)
	}
	// go-redis retries a refused connection for about two seconds: in parallel.
	for _, args := range [][]string{{"status", "b"}, {"list"}, {"failures", "b"}, {"cancel", "b"}, {"retry", "b"}, {"resolve", "b", "0", "resend"}} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel() // no test Redis involved
			wantCode(t, runWith(t, vars, nil, args...), exitInput, "redis unreachable")
		})
	}
}

// A gzip that breaks off leaves no batch, no staged part and no staged reject.
func TestTruncatedGzipLeavesNothing(t *testing.T) {
	h := setup(t)
	var list bytes.Buffer
	for i := range 3000 {
		if i%7 == 0 {
			fmt.Fprintln(&list, "12345") // rejected, so rejects are staged too
		} else {
			fmt.Fprintf(&list, "1380013%04d\n", i)
		}
	}
	gz := gzipped(t, list.Bytes())
	path := writeFile(t, "list.txt.gz", gz[:len(gz)*6/10])
	r := h.run("-vendor", "yccall", "-campaign", campaignFile("yccall"), "-part-size", "100", "-json", path)
	wantCode(t, r, exitInput, "unexpected EOF")
	if !strings.Contains(r.stderr, "nothing was enqueued") || r.stdout != "" {
		t.Errorf("stdout %q, stderr %q; want no summary and 'nothing was enqueued'", r.stdout, r.stderr)
	}
	h.wantNoKeys()

	// The corpus's truncated gzip too.
	r = h.run("-vendor", "nxcloud", "-campaign", campaignFile("nxcloud"), "-part-size", "10", badInput+"/truncated.txt.gz")
	wantCode(t, r, exitInput, "unexpected EOF")
	h.wantNoKeys()
}

func TestStrict(t *testing.T) {
	h := setup(t)
	r := h.run("-vendor", "yccall", "-campaign", campaignFile("yccall"), "-strict", "-json", listCSV)
	wantCode(t, r, exitStrict, "-strict: 4 rows rejected, nothing enqueued")
	if s := summaryOf(t, r); s.Committed || s.Rejected != 4 || s.Enqueued != 0 {
		t.Errorf("summary %+v; want 4 rejected, nothing committed", s)
	}
	h.wantNoKeys()

	// A clean list passes -strict.
	clean := writeFile(t, "clean.txt", []byte("13800138000\n13900139000\n"))
	r = h.run("-vendor", "yccall", "-campaign", campaignFile("yccall"), "-strict", clean)
	wantCode(t, r, exitOK, "accepted 2, rejected 0")
}

func TestDryRun(t *testing.T) {
	h := setup(t)
	args := []string{"-vendor", "yccall", "-campaign", campaignFile("yccall"), "-dry-run", "-json", "-part-size", "4", listCSV}
	r := h.run(args...)
	wantCode(t, r, exitOK, "dry run, nothing written")
	s := summaryOf(t, r)
	want := producer.Summary{Batch: s.Batch, Vendor: "yccall", Read: 13, Accepted: 9, Rejected: 4, Duplicates: 1, Parts: 3, DryRun: true, Format: "csv", Seconds: s.Seconds}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	h.wantNoKeys()
	// A dry run needs no Redis at all.
	r = runWith(t, map[string]string{"REDIS_URL": unreachable}, nil, args...)
	wantCode(t, r, exitOK, "dry run")
	if got := summaryOf(t, r); got.Batch != s.Batch {
		t.Errorf("batch %s without Redis, %s with; want the same", got.Batch, s.Batch)
	}
}

// enqueue runs the command and wants it to succeed with a -json summary.
func (h *harness) enqueue(vendor string, args ...string) producer.Summary {
	h.t.Helper()
	args = append([]string{"-vendor", vendor, "-campaign", campaignFile(vendor), "-json"}, args...)
	r := h.run(args...)
	if r.code != exitOK {
		h.t.Fatalf("enqueue %q: exit %d: %s", args, r.code, r.stderr)
	}
	return summaryOf(h.t, r)
}

func TestEnqueueExamples(t *testing.T) {
	// examples/list.csv: 13 rows; line 8 repeats line 2; lines 9 and 10 are not
	// numbers; line 11 is a Hong Kong number; lines 12 and 13 hold FlashAI separators.
	tests := []struct {
		vendor                       string
		accepted, rejected, enqueued int64
	}{
		{"nxcloud", 10, 3, 1},
		{"yccall", 9, 4, 1},
		{"speech", 9, 4, 1},
		{"flashai", 7, 6, 1},
	}
	for _, tt := range tests {
		t.Run(tt.vendor, func(t *testing.T) {
			h := setup(t)
			s := h.enqueue(tt.vendor, listCSV)
			want := producer.Summary{
				Batch: s.Batch, Vendor: tt.vendor, Read: 13, Accepted: tt.accepted, Rejected: tt.rejected, Duplicates: 1,
				Parts: 1, Enqueued: 1, Committed: true, Format: "csv", Seconds: s.Seconds,
			}
			if tt.vendor == "flashai" {
				want.VendorCheck = "not checked against the FlashAI tenant: FLASHAI_* variables not set where enqueue runs"
			}
			if diff := cmp.Diff(want, s); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if !regexp.MustCompile(`^` + tt.vendor + `-[0-9a-f]{16}$`).MatchString(s.Batch) {
				t.Errorf("batch id %q", s.Batch)
			}
			pending, err := h.inspector().ListPendingTasks(queue.For(tt.vendor))
			if err != nil || len(pending) != 1 || pending[0].Type != queue.PartType(tt.vendor) {
				t.Errorf("pending tasks %v, %v; want one %s", pending, err, queue.PartType(tt.vendor))
			}
		})
	}
}

func TestRerunEnqueuesNothingNew(t *testing.T) {
	h := setup(t)
	args := []string{"-part-size", "4", listCSV}
	first := h.enqueue("yccall", args...)
	if first.Existing || first.Parts != 3 || first.Enqueued != 3 || first.AlreadyQueued != 0 {
		t.Fatalf("first run %+v; want 3 parts enqueued", first)
	}
	keys := h.keys()
	again := h.enqueue("yccall", args...)
	if again.Batch != first.Batch || !again.Existing || again.Enqueued != 0 || again.AlreadyQueued != first.Parts {
		t.Errorf("second run %+v; want batch %s existing, 0 enqueued, %d already queued", again, first.Batch, first.Parts)
	}
	if diff := cmp.Diff(keys, h.keys()); diff != "" {
		t.Errorf("keys after the second run (-first +second):\n%s", diff)
	}

	// One task per part, with the part's fixed id, and no phone number in the payload.
	pending, err := h.inspector().ListPendingTasks(queue.For("yccall"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ti := range pending {
		ids = append(ids, ti.ID)
		dec := json.NewDecoder(bytes.NewReader(ti.Payload))
		dec.DisallowUnknownFields()
		var pl queue.PartPayload
		if err := dec.Decode(&pl); err != nil || pl.Batch != first.Batch || queue.PartTaskID(pl.Batch, pl.Part) != ti.ID {
			t.Errorf("task %s payload %s: %+v, %v", ti.ID, ti.Payload, pl, err)
		}
		for _, phone := range []string{"13800138000", "13900139000", "0013", "8613"} {
			if bytes.Contains(ti.Payload, []byte(phone)) {
				t.Errorf("task %s payload %s holds a phone number", ti.ID, ti.Payload)
			}
		}
	}
	sort.Strings(ids)
	want := []string{first.Batch + ":0", first.Batch + ":1", first.Batch + ":2"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("task ids (-want +got):\n%s", diff)
	}

	// A different cut of the same list is a different batch.
	other := h.enqueue("yccall", "-part-size", "5", listCSV)
	if other.Batch == first.Batch || other.Existing {
		t.Errorf("part size 5: %+v; want a new batch", other)
	}
}

func TestStdinAndGzip(t *testing.T) {
	h := setup(t)
	list, err := os.ReadFile(listCSV)
	if err != nil {
		t.Fatal(err)
	}
	r := h.runStdin(list, "-vendor", "speech", "-campaign", campaignFile("speech"), "-json", "-")
	wantCode(t, r, exitOK, "")
	stdin := summaryOf(t, r)
	if stdin.Read != 13 || stdin.Accepted != 9 || stdin.Existing {
		t.Errorf("stdin: %+v", stdin)
	}
	st := h.status(stdin.Batch)
	if st.Source != "stdin" {
		t.Errorf("source %q; want stdin", st.Source)
	}
	// The same bytes from a file are the same batch.
	if file := h.enqueue("speech", listCSV); file.Batch != stdin.Batch || !file.Existing {
		t.Errorf("file after stdin: %+v; want batch %s, existing", file, stdin.Batch)
	}
	// Gzipped, the same list is still the same batch.
	gz := writeFile(t, "list.csv.gz", gzipped(t, list))
	s := h.enqueue("speech", gz)
	if s.Read != 13 || s.Accepted != 9 || s.Rejected != 4 || s.Format != "csv" || !s.Existing || s.Batch != stdin.Batch {
		t.Errorf("gzip: %+v; want batch %s, existing", s, stdin.Batch)
	}
	r = h.runStdin(gzipped(t, list), "-vendor", "speech", "-campaign", campaignFile("speech"), "-json", "-")
	if s2 := summaryOf(t, r); s2.Batch != s.Batch || !s2.Existing {
		t.Errorf("gzip on stdin: %+v; want batch %s, existing", s2, s.Batch)
	}
}

func readCSV(t *testing.T, data string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	return rows
}

func TestRejectsFile(t *testing.T) {
	h := setup(t)
	path := filepath.Join(t.TempDir(), "rejects.csv")
	s := h.enqueue("yccall", "-rejects", path, listCSV)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, string(data))
	want := [][]string{
		{"line", "phone", "reason"},
		{"8", "13800138000", "duplicate of line 2"},
		{"9", "1380013800", "not a valid number for its region"},
		{"10", "1380013800a", "contains letters (extensions and vanity numbers are not dialable)"},
		{"11", "'+852 5123 4567", "a HK number: yccall dials CN numbers only"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rejects file (-want +got):\n%s", diff)
	}
	if int64(len(rows)-1) != s.Rejected {
		t.Errorf("%d rows in the rejects file; summary says %d rejected", len(rows)-1, s.Rejected)
	}
}

func (h *harness) status(id string) ledger.Status {
	h.t.Helper()
	r := h.run("status", "-json", id)
	if r.code != exitOK {
		h.t.Fatalf("status: exit %d: %s", r.code, r.stderr)
	}
	var st ledger.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		h.t.Fatalf("status -json %q: %v", r.stdout, err)
	}
	return st
}

func TestOperatorCommands(t *testing.T) {
	h := setup(t)
	s := h.enqueue("nxcloud", "-part-size", "3", listCSV)
	if s.Parts != 4 {
		t.Fatalf("summary %+v; want 4 parts", s)
	}

	st := h.status(s.Batch)
	if st.Read != st.Rejected+st.Pending || st.Pending != s.Accepted || st.Finished || st.Cancelled ||
		st.State != ledger.StateEnqueued || st.Parts != 4 || st.PartStates[ledger.PartQueued] != 4 || st.Source != "list.csv" {
		t.Errorf("status right after enqueue: %+v", st)
	}
	r := h.run("status", s.Batch)
	wantCode(t, r, exitOK, "")
	if !strings.Contains(r.stdout, s.Batch) || !regexp.MustCompile(`pending\s+10\b`).MatchString(r.stdout) {
		t.Errorf("status:\n%s", r.stdout)
	}

	// failures: every reject as CSV with a phone column, which enqueue takes back.
	r = h.run("failures", s.Batch)
	wantCode(t, r, exitOK, "")
	rows := readCSV(t, r.stdout)
	if len(rows) == 0 || !slices.Contains(rows[0], "phone") {
		t.Fatalf("failures header %q; want a phone column", rows)
	}
	phone := slices.Index(rows[0], "phone")
	var got []string
	for _, row := range rows[1:] {
		got = append(got, row[phone])
	}
	if diff := cmp.Diff([]string{"13800138000", "1380013800", "1380013800a"}, got); diff != "" {
		t.Errorf("failures phones (-want +got):\n%s", diff)
	}
	back := h.runStdin([]byte(r.stdout), "-vendor", "nxcloud", "-campaign", campaignFile("nxcloud"), "-dry-run", "-json", "-")
	wantCode(t, back, exitOK, "")
	if fb := summaryOf(t, back); fb.Format != "csv" || fb.Read != 3 || fb.Accepted != 1 {
		t.Errorf("failures fed back: %+v; want 3 rows read as CSV, the duplicate now accepted", fb)
	}

	// list shows the batch.
	r = h.run("list")
	wantCode(t, r, exitOK, "")
	if !regexp.MustCompile(regexp.QuoteMeta(s.Batch) + `\s+nxcloud\s+enqueued\s+13\b`).MatchString(r.stdout) {
		t.Errorf("list:\n%s", r.stdout)
	}
	r = h.run("list", "-json")
	var listed ledger.Status
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || listed.Batch != s.Batch {
		t.Errorf("list -json %q: %v", r.stdout, err)
	}

	// resolve needs an uncertain part; retry finds no failed part.
	wantCode(t, h.run("resolve", s.Batch, "0", "delivered"), exitUsage, "part 0 is queued, not uncertain")
	wantCode(t, h.run("resolve", s.Batch, "4", "resend"), exitUsage, "has parts 0-3")
	wantCode(t, h.run("resolve", "nope", "0", "resend"), exitUsage, "batch not found")
	wantCode(t, h.run("retry", s.Batch), exitUsage, "has no failed part: nothing to act on")
	// NXCloud has no batch control and no number deletion.
	wantCode(t, h.run("control", "pause", s.Batch), exitUsage, "nxcloud has no batch control")
	wantCode(t, h.run("delete", s.Batch, "8613800138000"), exitUsage, "only flashai batches")

	// cancel, then status says so.
	r = h.run("cancel", s.Batch)
	wantCode(t, r, exitOK, "")
	if st := h.status(s.Batch); !st.Cancelled {
		t.Errorf("status after cancel: %+v; want cancelled", st)
	}
	if r := h.run("status", s.Batch); !regexp.MustCompile(`state\s+cancelled\n`).MatchString(r.stdout) {
		t.Errorf("status after cancel:\n%s", r.stdout)
	}
	// A second cancel has nothing to act on.
	wantCode(t, h.run("cancel", s.Batch), exitUsage, "cancelled already")
	wantCode(t, h.run("pause", s.Batch), exitUsage, "batch is cancelled")
}

// -h on every command prints its flags and exits 0, and never a secret from the
// environment; version prints the build's version.
func TestHelpAndVersion(t *testing.T) {
	env := map[string]string{"REDIS_URL": "redis://:hunter2-secret@127.0.0.1:1/0"}
	run := func(args ...string) result { return runWith(t, env, nil, args...) }
	for _, args := range [][]string{{"-h"}, {"status", "-h"}, {"list", "-h"}, {"failures", "-h"}, {"retry", "-h"},
		{"resolve", "-h"}, {"cancel", "-h"}, {"pause", "-h"}, {"resume", "-h"}, {"control", "-h"}, {"delete", "-h"},
		{"suppress", "import", "-h"}, {"suppress", "check", "-h"}, {"audit", "-h"}} {
		r := run(args...)
		if r.code != exitOK {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout+r.stderr, "-redis") {
			t.Errorf("%v: flags not shown:\n%s%s", args, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "hunter2") {
			t.Errorf("%v: help shows the Redis password", args)
		}
	}
	if r := run("-h"); !strings.Contains(r.stdout, "-vendor") {
		t.Errorf("enqueue -h does not show the enqueue flags:\n%s", r.stdout)
	}
	if r := run("version"); r.code != exitOK || !strings.HasPrefix(r.stdout, "enqueue ") {
		t.Errorf("version: %+v", r)
	}
}

// audit of a batch that does not exist, with no audit kept, says so and exits 1.
func TestAuditOfNothing(t *testing.T) {
	h := setup(t)
	wantCode(t, h.run("audit", "no-such-batch"), exitUsage, "no such batch and no compliance audit")
}
