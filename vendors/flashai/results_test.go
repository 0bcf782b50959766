package flashai_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/google/go-cmp/cmp"
)

func TestParseCallRecord(t *testing.T) {
	loc := flashai.DefaultLocation
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, rec string
		want      flashai.CallRecord
		bad       string // substring of the error; "" means it parses
	}{
		{name: "answered", rec: "13800138000^20240326^2024-03-26 10:00:00^2024-03-26 10:01:05^2024-03-26 10:00:05^60^A^interested^hi-1-yes-2$bye-3",
			want: flashai.CallRecord{Phone: "13800138000", OutboundDate: "20240326", CallStart: at("2024-03-26 10:00:00"),
				Hangup: at("2024-03-26 10:01:05"), Answer: at("2024-03-26 10:00:05"), DurationS: 60, IntentTag: "A",
				IntentNote: "interested", Detail: "hi-1-yes-2$bye-3"}},
		{name: "not answered, empty fields", rec: "13800138000^20240326^10:00:00^^^^F^^",
			want: flashai.CallRecord{Phone: "13800138000", OutboundDate: "20240326", CallStart: at("2024-03-26 10:00:00"), IntentTag: "F"}},
		{name: "detail keeps carets", rec: "13800138000^20240326^^^^0^^^a^b^c",
			want: flashai.CallRecord{Phone: "13800138000", OutboundDate: "20240326", Detail: "a^b^c"}},
		{name: "unix seconds and ms", rec: "13800138000^20240326^1711418400^1711418460000^^3^^",
			want: flashai.CallRecord{Phone: "13800138000", OutboundDate: "20240326", CallStart: time.Unix(1711418400, 0),
				Hangup: time.UnixMilli(1711418460000), DurationS: 3}},
		{name: "slashes", rec: "13800138000^20240326^2024/03/26 10:00:00^^^^^",
			want: flashai.CallRecord{Phone: "13800138000", OutboundDate: "20240326", CallStart: at("2024-03-26 10:00:00")}},
		{name: "too few fields", rec: "13800138000^20240326^10:00:00^^^0^A", bad: "7 fields"},
		{name: "phone letters", rec: "1380013800x^20240326^^^^0^^", bad: "phone"},
		{name: "phone short", rec: "123^20240326^^^^0^^", bad: "phone"},
		{name: "date", rec: "13800138000^2024-03-26^^^^0^^", bad: "outbound date"},
		{name: "call time", rec: "13800138000^20240326^ten^^^0^^", bad: "call time"},
		{name: "hang-up time", rec: "13800138000^20240326^^2024-13-40 10:00:00^^0^^", bad: "hang-up time"},
		{name: "answer time 11 digits", rec: "13800138000^20240326^^^17114184001^0^^", bad: "answer time"},
		{name: "duration negative", rec: "13800138000^20240326^^^^-1^^", bad: "duration"},
		{name: "duration fraction", rec: "13800138000^20240326^^^^1.5^^", bad: "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := flashai.ParseCallRecord(tt.rec, loc)
			if tt.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("ParseCallRecord(%q) error = %v; want one naming %q", tt.rec, err, tt.bad)
				}
				if strings.Contains(err.Error(), "13800138000") {
					t.Errorf("error %q holds the phone number", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCallRecord(%q): %v", tt.rec, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseCallRecord (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCallRecordAnswered(t *testing.T) {
	for _, tt := range []struct {
		r    flashai.CallRecord
		want bool
	}{
		{flashai.CallRecord{}, false},
		{flashai.CallRecord{DurationS: 1}, true},
		{flashai.CallRecord{Answer: time.Unix(1, 0)}, true},
	} {
		if got := tt.r.Answered(); got != tt.want {
			t.Errorf("Answered(%+v) = %v; want %v", tt.r, got, tt.want)
		}
	}
}

func TestParseCallListCountsBad(t *testing.T) {
	calls, bad := flashai.ParseCallList("13800138000^20240326^^^^0^^|garbage|13800138001^20240326^^^^5^A^|", nil)
	if len(calls) != 2 || len(bad) != 1 || bad[0].Index != 1 {
		t.Fatalf("ParseCallList = %d calls, bad %+v; want 2 calls and record 1 bad", len(calls), bad)
	}
}

func FuzzParseCallRecord(f *testing.F) {
	f.Add("13800138000^20240326^2024-03-26 10:00:00^^^60^A^note^x")
	f.Add("^^^^^^^")
	f.Fuzz(func(t *testing.T, rec string) {
		r, err := flashai.ParseCallRecord(rec, nil)
		if err != nil {
			return
		}
		if r.DurationS < 0 || r.Phone == "" || len(r.OutboundDate) != 8 {
			t.Fatalf("ParseCallRecord(%q) accepted %+v", rec, r)
		}
	})
}

// TestResultsAgainstFake: the fake's calls end, the summary counts them, the list
// pages through them and every record parses.
func TestResultsAgainstFake(t *testing.T) {
	fake, c := setup(t, nil)
	fake.SetFlashAICalls(fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.5, NotCalled: 0.2})
	ctx := context.Background()
	var phones []string
	for i := range 12 {
		phones = append(phones, fmt.Sprintf("138001380%02d", i))
	}
	// MaxPerCall is 5 in the fake's config: three plans.
	for i := 0; i < len(phones); i += 5 {
		if _, err := c.AddPlan(ctx, plan(fmt.Sprintf("res_%d", i), phones[i:min(i+5, len(phones))]...)); err != nil {
			t.Fatalf("AddPlan: %v", err)
		}
	}
	truth := fake.FlashAIResults()
	for i := 0; i < len(phones); i += 5 {
		name := fmt.Sprintf("res_%d", i)
		sum, err := c.GetBatchPlanCallSummary(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		n := min(5, len(phones)-i)
		if sum.AcceptCount != n || sum.EndCount != n || sum.PlanCount != 0 {
			t.Errorf("summary %s = %+v; want %d accepted and ended", name, sum, n)
		}
		got := map[string]string{}
		pages := 0
		for page := 1; ; page++ {
			p, err := c.GetBatchPlanCallList(ctx, &flashai.CallListRequest{BatchName: name, Page: page, PageNum: 2})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(p.Bad) > 0 {
				t.Fatalf("page %d: bad records %+v", page, p.Bad)
			}
			for _, r := range p.Calls {
				d := "not_answered"
				if r.Answered() {
					d = "answered"
					if r.Answer.IsZero() || r.IntentTag != "A" || r.Detail == "" {
						t.Errorf("answered record %+v lacks its answer time, tag or detail", r)
					}
				}
				if r.CallStart.IsZero() || r.Hangup.Before(r.CallStart) {
					t.Errorf("record %+v: call start/hang-up", r)
				}
				got[r.Phone] = d
			}
			if page >= p.TotalPage {
				break
			}
		}
		want := map[string]string{}
		for ph, d := range truth[name] {
			if d != "not_called" {
				want[ph] = d
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s calls (-fake +client):\n%s", name, diff)
		}
		if pages != max(1, (len(want)+1)/2) {
			t.Errorf("%s: %d pages for %d records of 2", name, pages, len(want))
		}
		all := map[string]string{}
		if err := c.EachCallPage(ctx, name, "", func(p *flashai.CallListPage) error {
			for _, r := range p.Calls {
				all[r.Phone] = "x"
			}
			return nil
		}); err != nil || len(all) != len(want) {
			t.Errorf("EachCallPage: %d records, err %v; want %d", len(all), err, len(want))
		}
	}
	if _, err := c.GetBatchPlanCallList(ctx, &flashai.CallListRequest{BatchName: "res_0", Page: 1, PageNum: 5001}); err == nil {
		t.Error("pageNum 5001 was sent")
	}
	if _, err := c.GetBatchPlanCallList(ctx, &flashai.CallListRequest{BatchName: "nope", Page: 1, PageNum: 10}); err == nil ||
		!strings.Contains(err.Error(), "1005") {
		t.Errorf("unknown batch: %v; want code 1005", err)
	}
	for ph, d := range truth["res_0"] {
		body, err := c.GetPhoneDetail(ctx, "res_0", ph)
		if d == "not_called" {
			if err == nil {
				t.Errorf("detail of a number never called: %s", body)
			}
			continue
		}
		if err != nil || !strings.Contains(string(body), ph) {
			t.Errorf("GetPhoneDetail = %s, %v", body, err)
		}
	}
}

// TestCallListMalformed: answers that break the envelope or the body are
// MalformedError; records that break are counted, not guessed.
func TestCallListMalformed(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		wantErr    bool
		calls, bad int
	}{
		{"not json", `{"code":`, true, 0, 0},
		{"no body", `{"code":"0","msg":"ok"}`, true, 0, 0},
		{"count not a number", `{"code":"0","body":{"totalPage":"x"}}`, true, 0, 0},
		{"bad records", `{"code":"0","body":{"callList":"13800138000^20240326^^^^0^^|x^y","totalPage":1}}`, false, 1, 1},
		{"escaped", `{"code":"0","body":{"callList":"13800138000^20240326^^^^0^\u0041^n\u00f6te|13800138001^20240326^^^^0^^","totalPage":1}}`, false, 2, 0},
		{"callList a number", `{"code":"0","body":{"callList":12,"totalPage":1}}`, false, 0, 1},
		{"numbers as strings", `{"code":"0","body":{"callList":"","totalPage":"1","totalRecord":"0"}}`, false, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			c, err := flashai.NewClient(clientConfig(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.GetBatchPlanCallList(context.Background(), &flashai.CallListRequest{BatchName: "b", Page: 1, PageNum: 10})
			if tt.wantErr {
				if err == nil || vendors.ClassOf(err) != vendors.Ambiguous {
					t.Errorf("error %v class %v", err, vendors.ClassOf(err))
				}
				return
			}
			if err != nil || len(p.Calls) != tt.calls || len(p.Bad) != tt.bad {
				t.Fatalf("page %+v, err %v; want %d calls, %d bad", p, err, tt.calls, tt.bad)
			}
		})
	}
}

// TestCallListSigned: the request carries notifyUrl and is signed over it.
func TestCallListSigned(t *testing.T) {
	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = decodeParams(t, r)
		fmt.Fprint(w, `{"code":"0","body":{"callList":"","totalPage":0}}`)
	}))
	defer srv.Close()
	c, err := flashai.NewClient(clientConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBatchPlanCallList(context.Background(), &flashai.CallListRequest{BatchName: "b", NotifyURL: "https://cb/x?a=1&b=2", Page: 3, PageNum: 10}); err != nil {
		t.Fatal(err)
	}
	if got["notifyUrl"] != "https://cb/x?a=1&b=2" || got["page"] != "3" || got["pageNum"] != "10" {
		t.Errorf("sent %v", got)
	}
	if want := flashai.Sign(got, testSecret); got["sign"] != want {
		t.Errorf("sign %s; want %s", got["sign"], want)
	}
}

// decodeParams reads a request body as the signed string params.
func decodeParams(t *testing.T, r *http.Request) map[string]string {
	t.Helper()
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Errorf("body: %v", err)
		return nil
	}
	p, err := flashai.StringParams(body)
	if err != nil {
		t.Errorf("params: %v", err)
	}
	return p
}
