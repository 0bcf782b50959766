package results

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/google/go-cmp/cmp"
)

func sample() []Result {
	t0 := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	return []Result{
		{Index: 0, Disposition: Answered, CallStart: t0, Answer: t0.Add(4 * time.Second), Hangup: t0.Add(70 * time.Second),
			DurationS: 66, IntentTag: "A", IntentNote: "interested", Detail: "hi-1$bye-2"},
		{Index: 3, Disposition: NotAnswered, CallStart: t0.Add(time.Minute), Hangup: t0.Add(time.Minute + 20*time.Second), IntentTag: "F"},
		{Index: 4, Disposition: NotCalled},
		{Index: 900, Disposition: NotAnswered, Answer: time.Unix(5, 0).UTC(), Hangup: time.Unix(3, 0).UTC()},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	sl := Slice{Part: 2, Attempt: 1, Range: chunking.Range{Lo: 0, Hi: 1000}}
	b, err := Encode("seal", sl, sample())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode("seal", sl, b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sample(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for name, other := range map[string]struct {
		seal string
		sl   Slice
	}{
		"other batch":   {"seal2", sl},
		"other part":    {"seal", Slice{Part: 3, Attempt: 1, Range: sl.Range}},
		"other attempt": {"seal", Slice{Part: 2, Attempt: 2, Range: sl.Range}},
		"other range":   {"seal", Slice{Part: 2, Attempt: 1, Range: chunking.Range{Lo: 0, Hi: 500}}},
	} {
		if _, err := Decode(other.seal, other.sl, b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode = %v; want ErrCorrupt", name, err)
		}
	}
	for i := 1; i < len(b); i++ {
		if _, err := Decode("seal", sl, b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: Decode = %v; want ErrCorrupt", i, err)
		}
	}
	flipped := bytes.Clone(b)
	flipped[len(flipped)-1] ^= 1
	if _, err := Decode("seal", sl, flipped); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped bit: %v", err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	sl := Slice{Part: 0, Attempt: 1, Range: chunking.Range{Hi: 10}}
	for name, res := range map[string][]Result{
		"out of order": {{Index: 2, Disposition: Answered}, {Index: 1, Disposition: Answered}},
		"repeated":     {{Index: 1, Disposition: Answered}, {Index: 1, Disposition: NotCalled}},
		"pending":      {{Index: 1, Disposition: Pending}},
		"unknown":      {{Index: 1, Disposition: 9}},
	} {
		if _, err := Encode("s", sl, res); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// TestCodecSize: a slice of results with tags, notes and dialogue lines like the
// fake's stays well inside the 32-byte budget.
func TestCodecSize(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	var res []Result
	for i := range 1000 {
		st := t0.Add(time.Duration(i*7) * time.Second)
		r := Result{Index: i, Disposition: NotAnswered, CallStart: st, Hangup: st.Add(20 * time.Second), IntentTag: "F", IntentNote: "no answer"}
		if i%2 == 0 {
			a := st.Add(4 * time.Second).Format("2006-01-02 15:04:05")
			r = Result{Index: i, Disposition: Answered, CallStart: st, Answer: st.Add(4 * time.Second), Hangup: st.Add(80 * time.Second),
				DurationS: 60 + i%50, IntentTag: "A", IntentNote: "interested", Detail: "hello-" + a + "-yes-" + a + "$bye-" + st.Format("15:04:05")}
		}
		res = append(res, r)
	}
	b, err := Encode("s", Slice{Attempt: 1, Range: chunking.Range{Hi: 1000}}, res)
	if err != nil {
		t.Fatal(err)
	}
	if per := float64(len(b)) / 1000; per > 16 {
		t.Errorf("%.1f bytes a result; want at most 16", per)
	}
}

func FuzzDecode(f *testing.F) {
	sl := Slice{Part: 1, Attempt: 1, Range: chunking.Range{Hi: 1000}}
	b, _ := Encode("seal", sl, sample())
	raw, _ := io.ReadAll(flate.NewReader(bytes.NewReader(b[1+sealLen:])))
	f.Add(raw)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, body []byte) {
		// Deflate and seal whatever body the fuzzer made, so the decoder itself
		// is exercised.
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
		_, _ = fw.Write(body)
		_ = fw.Close()
		sum := sliceSeal("seal", sl, buf.Bytes())
		in := append(append([]byte{codecVersion}, sum[:]...), buf.Bytes()...)
		res, err := Decode("seal", sl, in)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := Encode("seal", sl, res)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", res, err)
		}
		back, err := Decode("seal", sl, again)
		if err != nil || !cmp.Equal(res, back) {
			t.Fatalf("re-encoded results differ: %v", err)
		}
	})
}

func TestAttemptOf(t *testing.T) {
	for name, want := range map[string]int{"spring_0e4b4e61c953_3": 1, "spring_0e4b4e61c953_3_r2": 2, "a_r10": 10,
		"my_run_0e4b_1": 1, "x_r1": 1, "x_rx": 1, "spring_0e4b4e61c953_3_0_500": 1} {
		if got := attemptOf(name); got != want {
			t.Errorf("attemptOf(%q) = %d; want %d", name, got, want)
		}
	}
}
