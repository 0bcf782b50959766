package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// -h prints the flags on stdout and returns nil (exit 0) without logging an error;
// a bad flag is an error naming it.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}} {
		var out, logs bytes.Buffer
		log := logrus.New()
		log.SetOutput(&logs)
		stdout = &out
		err := run(context.Background(), args, func(string) string { return "" }, log)
		stdout = os.Stdout
		if err != nil || !strings.Contains(out.String(), "-addr") || !strings.Contains(out.String(), "usage: fakevendor") || logs.Len() > 0 {
			t.Errorf("fakevendor %v = %v, stdout %q, logs %q; want nil, the usage and no log", args, err, out.String(), logs.String())
		}
	}
	var out bytes.Buffer
	stdout = &out
	err := run(context.Background(), []string{"-bogus"}, func(string) string { return "" }, logrus.New())
	stdout = os.Stdout
	if err == nil || !strings.Contains(err.Error(), "-bogus") || out.Len() > 0 {
		t.Errorf("fakevendor -bogus = %v, stdout %q; want an error naming the flag", err, out.String())
	}
}
