package main

import (
	"strings"
	"testing"

	"github.com/dialq/dialq/jobs"
)

func TestResultsSetupRefuses(t *testing.T) {
	for env, want := range map[string]string{
		"DIALQ_RESULTS_POLL=soon":                                                "DIALQ_RESULTS_POLL",
		"DIALQ_RESULTS_WINDOW=-1h":                                               "DIALQ_RESULTS_WINDOW",
		"DIALQ_CALLBACK_BASE_URL=https://cb.example":                             "must be set together",
		"DIALQ_CALLBACK_SECRET=0123456789abcdef0123":                             "must be set together",
		"DIALQ_CALLBACK_BASE_URL=ftp://x,DIALQ_CALLBACK_SECRET=0123456789abcdef": "",
	} {
		vars := map[string]string{}
		for _, kv := range strings.Split(env, ",") {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		_, _, err := resultsSetup(func(k string) string { return vars[k] }, nil, &jobs.Deps{}, nil, nil, nil, nil)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v (checked only when FlashAI is served)", env, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v; want an error naming %s", env, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("%s: the secret reached the error: %v", env, err)
		}
	}
}
