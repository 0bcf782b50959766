package monitor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// Browser tests drive a real headless Chromium over the batch pages while a real
// delivery runs. They skip only when no Chromium binary is installed (.ci/run
// installs Debian's chromium). Set DIALQ_SCREENSHOTS to a directory (../docs) to
// write the pages' screenshots there.

// browserPath finds the Chromium binary, or "" when there is none.
func browserPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless Chromium for the test and returns its tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := browserPath()
	if path == "" {
		t.Skip("no chromium binary on PATH (apt-get install chromium): browser tests skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1280, 900),
		// Root in a container has no user namespace for the sandbox.
		chromedp.NoSandbox,
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelTab)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTime)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// domNumbers reads the numbers of the elements matching sel, keyed by the data
// attribute attr, as the page shows them ("1,234" reads 1234).
func domNumbers(ctx context.Context, sel, attr string) (map[string]int64, error) {
	js := fmt.Sprintf(`Object.fromEntries([...document.querySelectorAll(%q)].map(e => [e.getAttribute(%q), e.textContent.trim()]))`, sel, attr)
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](js))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for k, v := range raw {
		n, err := strconv.ParseInt(strings.ReplaceAll(v, ",", ""), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s[%s=%s] shows %q: %w", sel, attr, k, v, err)
		}
		out[k] = n
	}
	return out, nil
}

// statusTerms is what the batch page's account must show for st, from its fields.
func statusTerms(st *ledger.Status) map[string]int64 {
	return map[string]int64{"read": st.Read, "delivered": st.Delivered, "refused": st.Refused, "failed": st.Failed,
		"uncertain": st.Uncertain, "pending": st.Pending, "rejected": st.Rejected}
}

func statusParts(st *ledger.Status) map[string]int64 {
	out := map[string]int64{"total": int64(st.Parts)}
	for s, n := range st.PartStates {
		out[string(s)] = int64(n)
	}
	return out
}

// shows reports whether every key of want is on the page with its value.
func shows(got, want map[string]int64) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// waitShows polls the page (which refreshes itself) until sel shows want.
func waitShows(t *testing.T, ctx context.Context, what, sel, attr string, want map[string]int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got map[string]int64
	var err error
	for time.Now().Before(deadline) {
		if got, err = domNumbers(ctx, sel, attr); err == nil && shows(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: the page shows %v (err %v); want %v", what, got, err, want)
}

// checkNoNumbers fails if the page's DOM (markup and text) holds any input number.
func checkNoNumbers(t *testing.T, ctx context.Context, where string, input []string) {
	t.Helper()
	html := evaluate[string](t, ctx, `document.documentElement.outerHTML`)
	text := evaluate[string](t, ctx, `document.body.innerText`)
	if l := leaks(html+text, input); len(l) > 0 {
		t.Errorf("%s: the DOM holds input numbers %v", where, l)
	}
}

// evaluate runs js in the page and returns its value.
func evaluate[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// navigate loads url and waits until the element sel is visible.
func navigate(t *testing.T, ctx context.Context, url, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
}

// checkList waits until the list in tab shows each of the store's n batches with
// the numbers and state its Status has.
func checkList(t *testing.T, tab context.Context, w *world, n int) {
	t.Helper()
	ids, err := w.store.List(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != n {
		t.Fatalf("store lists %d batches; want %d", len(ids), n)
	}
	for _, b := range ids {
		st := w.status(b)
		sel := fmt.Sprintf(`tr[data-batch=%q] [data-term]`, b)
		waitShows(t, tab, "list row "+b, sel, "data-term", map[string]int64{"read": st.Read, "delivered": st.Delivered, "pending": st.Pending})
		state := evaluate[string](t, tab, fmt.Sprintf(`document.querySelector('tr[data-batch=%q] [data-field="state"]').textContent`, b))
		if state != string(st.State) {
			t.Errorf("list shows %s as %q; want %q", b, state, st.State)
		}
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("DIALQ_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserBatchPages loads a FlashAI batch's page before its delivery, watches
// it refresh in place while parts settle, freezes the delivery half way (worker
// stopped) to compare every number with the store's Status, then lets it finish and
// compares again, on the batch page and on /batches/. No phone number may reach the
// DOM at any point.
func TestBrowserBatchPages(t *testing.T) {
	ctx := newBrowser(t)
	defer func(r, g time.Duration) { refreshEvery, sampleGap = r, g }(refreshEvery, sampleGap)
	refreshEvery, sampleGap = 300*time.Millisecond, 500*time.Millisecond
	w := newWorld(t, HTTPConfig{})

	// Other batches, so that the list has company: one finished, one with an
	// uncertain part, one cancelled before it ran.
	w.enqueue("nxcloud", listOf(phones(60, 5000)), 20)
	uncertain := w.enqueue("yccall", listOf(phones(30, 6000)), 10)
	if err := w.store.MarkInflight(context.Background(), uncertain, 2, chunking.Range{Lo: 0, Hi: 10}); err != nil {
		t.Fatal(err)
	}
	cancelled := w.enqueue("speech", listOf(phones(12, 7000)), 4)
	if err := w.deps.Lifecycle.Cancel(context.Background(), cancelled); err != nil {
		t.Fatal(err)
	}

	nums := phones(200, 100)
	w.fake.Refuse("number is on the vendor blacklist", nums[7], nums[70], nums[140])
	w.fake.Refuse("number in a do-not-call period", nums[33])
	id := w.enqueue("flashai", listOf(nums, "12345", "not-a-number", "0000"), 5)
	input := append(append(phones(60, 5000), phones(30, 6000)...), append(phones(12, 7000), nums...)...)
	page := w.srv.URL + "/batches/" + id

	// Before delivery: everything pending.
	navigate(t, ctx, page, "#account")
	evaluate[bool](t, ctx, `window.notReloaded = true`)
	st := w.status(id)
	waitShows(t, ctx, "before delivery", `#account [data-term]`, "data-term", statusTerms(st))
	checkNoNumbers(t, ctx, "batch page before delivery", input)

	// During: slow calls, and the page must move on its own.
	// 40 parts, two at a time, half a second a call: about ten seconds in all.
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 500})
	stop := w.startWorker()
	var seen []int64
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		got, err := domNumbers(ctx, `#account [data-term]`, "data-term")
		if err != nil {
			t.Fatal(err)
		}
		if d := got["delivered"]; d > 0 && got["pending"] > 0 && (len(seen) == 0 || d > seen[len(seen)-1]) {
			seen = append(seen, d)
			var sum int64
			for k, v := range got {
				if k != "read" {
					sum += v
				}
			}
			if sum != got["read"] {
				t.Errorf("the page's account %v adds up to %d, not read %d", got, sum, got["read"])
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(seen) < 2 {
		t.Fatalf("the page showed delivered going %v while parts settled; want two rising values before the end", seen)
	}
	// Half way: freeze the delivery and compare exactly.
	stop()
	st = w.status(id)
	if st.Pending == 0 {
		t.Fatalf("delivery finished before the worker stopped: %+v; slow the fake down", st)
	}
	waitShows(t, ctx, "half way", `#account [data-term]`, "data-term", statusTerms(st))
	waitShows(t, ctx, "half way parts", `#partstates [data-parts]`, "data-parts", statusParts(st))
	checkNoNumbers(t, ctx, "batch page half way", input)
	// The list in a second tab, while the batch is half done.
	listTab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	navigate(t, listTab, w.srv.URL+"/batches/", "#batches")
	checkList(t, listTab, w, 4)
	checkNoNumbers(t, listTab, "batch list half way", input)
	if eta := evaluate[string](t, listTab, fmt.Sprintf(`document.querySelector('tr[data-batch=%q] [data-field="eta"]').textContent.trim()`, id)); !strings.HasSuffix(eta, "UTC") {
		t.Errorf("list shows the running batch's estimated finish as %q; want a time", eta)
	}
	screenshot(t, listTab, "batches.png")

	// After: let it finish.
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 50})
	w.startWorker()
	st = w.waitFinished(id, 60*time.Second)
	w.waitSettled(uncertain, 60*time.Second)
	if !st.Finished || st.Refused != 4 || st.Rejected != 3 {
		t.Fatalf("status %+v; want finished with 4 refused, 3 rejected", st)
	}
	waitShows(t, ctx, "after delivery", `#account [data-term]`, "data-term", statusTerms(st))
	waitShows(t, ctx, "after delivery parts", `#partstates [data-parts]`, "data-parts", statusParts(st))
	waitShows(t, ctx, "after delivery funnel", `#funnel [data-step]`, "data-step",
		map[string]int64{"read": st.Read, "accepted": st.Accepted, "delivered": st.Delivered})
	notReloaded := evaluate[bool](t, ctx, `window.notReloaded === true`)
	refreshes := evaluate[int](t, ctx, `window.dialqRefreshes`)
	state := evaluate[string](t, ctx, `document.querySelector('main [data-field="state"]').textContent`)
	if !notReloaded || refreshes < 3 || state != string(ledger.StateFinished) {
		t.Errorf("page refreshed in place %v, %d times, shows state %q; want in place, 3+ times, %q",
			notReloaded, refreshes, state, ledger.StateFinished)
	}
	// The vendor section, reasons and resolve commands are there.
	vendorRows := evaluate[int](t, ctx, `document.querySelectorAll('#vendor [data-vendor]').length`)
	outcomeRows := evaluate[int](t, ctx, `document.querySelectorAll('#outcomes tbody tr').length`)
	if vendorRows != 3 || outcomeRows != 2 {
		t.Errorf("vendor rows %d, outcome reasons %d; want 3 and 2", vendorRows, outcomeRows)
	}
	checkNoNumbers(t, ctx, "batch page after delivery", input)
	screenshot(t, ctx, "batch.png")

	// The list, in the tab that has refreshed itself since half way.
	checkList(t, listTab, w, 4)
	checkNoNumbers(t, listTab, "batch list after delivery", input)

	// The uncertain batch's page offers the exact commands.
	navigate(t, ctx, w.srv.URL+"/batches/"+uncertain, "#parts")
	cmds := evaluate[[]string](t, ctx, `[...document.querySelectorAll('#parts code.cmd')].map(e => e.textContent)`)
	want := []string{"enqueue resolve " + uncertain + " -delivered 2", "enqueue resolve " + uncertain + " -not-delivered 2"}
	if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Errorf("uncertain batch page commands %q; want %q", cmds, want)
	}
	checkNoNumbers(t, ctx, "uncertain batch page", input)
}
