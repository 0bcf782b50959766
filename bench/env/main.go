// Command env prints fakevendor.DemoEnv as shell export lines, so that a benchmark
// script configures the fake vendor and the workers from one environment:
//
//	eval "$(env -base http://127.0.0.1:9191 -key /tmp/speech.pem)"
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/dialq/dialq/fakevendor"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:9191", "the fake vendor's base URL")
	key := flag.String("key", "speech.pem", "where to write the demo speech private key")
	flag.Parse()
	env, err := fakevendor.DemoEnv(*base, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "env:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Printf("export %s=%s\n", k, shellQuote(env[k]))
	}
}

// shellQuote wraps s in single quotes, which the shell takes literally.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
