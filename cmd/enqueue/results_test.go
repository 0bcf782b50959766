package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestResultsCommands(t *testing.T) {
	h := setup(t)
	s := h.enqueue("yccall", "-part-size", "3", listCSV)

	r := h.run("status", "-json", s.Batch)
	wantCode(t, r, exitOK, "")
	var st struct {
		Results *struct {
			Answered, Pending int64
			Complete          bool
		} `json:"results"`
		Pending int64 `json:"pending"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Results == nil || st.Results.Complete || st.Pending == 0 {
		t.Errorf("status -json %s: results %+v (%v)", r.stdout, st.Results, err)
	}

	wantCode(t, h.run("results", s.Batch), exitUsage, "no number was delivered")
	wantCode(t, h.run("results", "-format", "xml", s.Batch), exitUsage, "want csv or jsonl")
	wantCode(t, h.run("results"), exitUsage, "usage: enqueue results")
	wantCode(t, h.run("results", "nope"), exitUsage, "nope")
	for args, flag := range map[string]string{"results -h": "-format", "results import -h": "-phone-col", "help results": "import"} {
		r := h.run(strings.Fields(args)...)
		wantCode(t, r, exitOK, "")
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("enqueue %s: stdout %q lacks %s", args, r.stdout, flag)
		}
	}

	file := writeFile(t, "res.csv", []byte("phone,disposition\n13800138000,answered\n13800138001,maybe\n"))
	r = h.run("results", "import", s.Batch, file)
	wantCode(t, r, exitStrict, "line 3: disposition \"maybe\"")
	wantCode(t, r, exitStrict, "line 2: number was not delivered")
	wantCode(t, h.run("results", "import", s.Batch, writeFile(t, "e.csv", nil)), exitUsage, "empty")
	wantCode(t, h.run("results", "import", s.Batch, writeFile(t, "h.csv", []byte("phone,disposition\n"))), exitUsage, "no rows")
	wantCode(t, h.run("results", "import", s.Batch, writeFile(t, "c.csv", []byte("tel,disposition\n"))), exitUsage, `no column "phone"`)
}
