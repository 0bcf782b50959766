package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/registry"
)

// account is what the demo printed for one batch.
type account struct {
	Read, Rejected, Delivered, Refused, Failed, Uncertain, Pending int
	State                                                          string
	// Refusals are the masked numbers listed under "refused by vendor".
	Refusals []string
}

var (
	headerRE = regexp.MustCompile(`^(\w+)  batch (\S+)  (\w+)$`)
	countRE  = regexp.MustCompile(`^  (read|rejected at input|delivered|refused by vendor|failed|uncertain|pending)\s+(\d+)`)
	detailRE = regexp.MustCompile(`^      line \d+\s+(\S+)`)
)

// parseAccounts reads the per-batch accounts from the demo's output.
func parseAccounts(t *testing.T, out string) map[string]*account {
	t.Helper()
	got := map[string]*account{}
	var cur *account
	section := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := headerRE.FindStringSubmatch(line); m != nil {
			cur = &account{State: m[3]}
			got[m[1]] = cur
			continue
		}
		if cur == nil {
			continue
		}
		if m := countRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[2])
			section = m[1]
			switch section {
			case "read":
				cur.Read = n
			case "rejected at input":
				cur.Rejected = n
			case "delivered":
				cur.Delivered = n
			case "refused by vendor":
				cur.Refused = n
			case "failed":
				cur.Failed = n
			case "uncertain":
				cur.Uncertain = n
			case "pending":
				cur.Pending = n
			}
			continue
		}
		if m := detailRE.FindStringSubmatch(line); m != nil && section == "refused by vendor" {
			cur.Refusals = append(cur.Refusals, m[1])
		}
	}
	return got
}

// listNumbers returns every digit run of 7 or more in the example list's phone
// column: none may reach the output unmasked.
func listNumbers(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", listFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		phone, _, _ := strings.Cut(line, ",")
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, phone)
		if len(digits) >= 7 {
			out = append(out, digits, digits[len(digits)-7:])
		}
	}
	return out
}

func TestRunDeliversExampleList(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// No -examples: the default is found at the repository root from cmd/demo.
	err := run(context.Background(), []string{"-http", "127.0.0.1:0"}, &stdout, &stderr)
	out := stdout.String()
	if err != nil {
		t.Fatalf("run = %v; want success\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	// examples/list.csv has 13 rows: a duplicate, a short number and one with
	// letters are rejected everywhere, the HK number by all but nxcloud (which
	// dials abroad), and two rows with FlashAI's separators by flashai. The fake
	// refuses two numbers at yccall and flashai, which report refusals in a call.
	want := map[string]*account{
		"nxcloud": {Read: 13, Rejected: 3, Delivered: 10, State: "finished"},
		"yccall":  {Read: 13, Rejected: 4, Delivered: 7, Refused: 2, State: "finished", Refusals: []string{"136******00", "158******00"}},
		"speech":  {Read: 13, Rejected: 4, Delivered: 9, State: "finished"},
		"flashai": {Read: 13, Rejected: 6, Delivered: 5, Refused: 2, State: "finished", Refusals: []string{"136******00", "158******00"}},
	}
	got := parseAccounts(t, out)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("accounts (-want +got):\n%s\noutput:\n%s", diff, out)
	}
	for v, a := range got {
		if a.Read != a.Rejected+a.Delivered+a.Refused+a.Failed+a.Uncertain+a.Pending {
			t.Errorf("%s: account does not add up: %+v", v, a)
		}
	}
	for _, s := range []string{"OK: 4 batches finished", "adds up", "the fake flashai holds 5 numbers", "the fake yccall holds 7 numbers"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	for _, n := range listNumbers(t) {
		if strings.Contains(out, n) {
			t.Errorf("output shows number %s unmasked", n)
		}
	}
	// Warn level by default: a clean run logs nothing.
	if stderr.Len() > 0 {
		t.Errorf("stderr not empty:\n%s", stderr.String())
	}
}

// syncBuffer is written by run while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeKeepsDashboard(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-http", "127.0.0.1:0", "-serve"}, &stdout, &stderr) }()

	urlRE := regexp.MustCompile(`Serving the dashboard at (http://\S+/monitoring/) until Ctrl-C`)
	var dash string
	deadline := time.Now().Add(30 * time.Second)
	for dash == "" {
		select {
		case err := <-done:
			t.Fatalf("run returned %v before serving\n%s\n%s", err, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dashboard URL after 30s:\n%s", stdout.String())
		}
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			dash = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The dashboard's API lists the completed parts (4+3+3+3) with their results,
	// and no phone number.
	// Each vendor's parts are in its own queue.
	var body string
	completed := 0
	for _, v := range registry.Names() {
		b := get(t, dash+"api/queues/"+queue.For(v)+"/completed_tasks?page_size=50")
		body += b
		var resp struct {
			Tasks []struct {
				ID     string `json:"id"`
				Result string `json:"result"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(b), &resp); err != nil {
			t.Fatalf("completed tasks of %s: %v\n%s", v, err, b)
		}
		completed += len(resp.Tasks)
		for _, tk := range resp.Tasks {
			if tk.Result == "" {
				t.Errorf("completed part %s has no result", tk.ID)
			}
		}
	}
	if completed != 13 {
		t.Errorf("dashboard lists %d completed parts; want 13\n%s", completed, body)
	}
	for _, n := range listNumbers(t) {
		if strings.Contains(body, n) {
			t.Errorf("dashboard shows number %s unmasked", n)
		}
	}
	if got := get(t, strings.TrimSuffix(dash, "/monitoring/")+"/healthz"); got != "ok\n" {
		t.Errorf("healthz = %q; want ok", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after Ctrl-C = %v; want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestRunFails(t *testing.T) {
	// A Redis whose dialq queue holds work: a demo worker would deliver it to the fake.
	busy := miniredis.RunT(t)
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: busy.Addr()})
	if _, err := c.Enqueue(asynq.NewTask("dial:other", nil), asynq.Queue(queue.For("nxcloud"))); err != nil {
		t.Fatal(err)
	}
	c.Close()

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"timeout", []string{"-timeout", "1ns"}, "not finished within -timeout"},
		{"examples", []string{"-examples", "no-such-dir"}, "examples"},
		{"busy redis", []string{"-redis", "redis://" + busy.Addr()}, "holds 1 tasks"},
		{"no redis", []string{"-redis", "redis://127.0.0.1:1"}, "does not answer"},
		{"bad flag", []string{"-part-size", "0"}, "part-size"},
		{"extra args", []string{"list.csv"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"-http", "127.0.0.1:0"}, tt.args...)
			err := run(context.Background(), args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v; want an error containing %q\n%s", tt.args, err, tt.want, stdout.String())
			}
		})
	}
}

func TestListenHTTPFallsBack(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ln, note, err := listenHTTP(taken.Addr().String())
	if err != nil {
		t.Fatalf("listenHTTP(taken) = %v", err)
	}
	defer ln.Close()
	if ln.Addr().String() == taken.Addr().String() {
		t.Errorf("listenHTTP bound the taken address %s", taken.Addr())
	}
	if want := fmt.Sprintf("%s is taken: using %s instead", taken.Addr(), ln.Addr()); note != want {
		t.Errorf("note = %q; want %q", note, want)
	}

	free, note, err := listenHTTP("127.0.0.1:0")
	if err != nil || note != "" {
		t.Fatalf("listenHTTP(free) = %q, %v; want no note", note, err)
	}
	free.Close()
}
