package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// A storm of 64 failed attempts logs the first few lines and then one line saying
// how many were not logged, per vendor.
func TestFailLogRateLimited(t *testing.T) {
	l, hook := logtest.NewNullLogger()
	f := newFailLog(100*time.Millisecond, 5)
	// The clock moves only when the test says: a loaded machine cannot stretch
	// the storm past the window.
	clock := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	f.now = func() time.Time { return clock }
	for range 64 {
		f.log(logrus.NewEntry(l), "nxcloud", "vendor call failed")
	}
	f.log(logrus.NewEntry(l), "yccall", "vendor call failed")
	if n := len(hook.AllEntries()); n != 6 {
		t.Fatalf("%d lines for 64 + 1 failures; want 5 + 1", n)
	}
	clock = clock.Add(120 * time.Millisecond)
	f.log(logrus.NewEntry(l), "nxcloud", "vendor call failed")
	entries := hook.AllEntries()
	if len(entries) != 8 || !strings.Contains(entries[6].Message, "59 more failed attempts of nxcloud") {
		t.Errorf("after the window: %d lines, %q", len(entries), entries[len(entries)-2].Message)
	}
}
