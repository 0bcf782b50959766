package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// commandPaths lists every command of the tree, as a user types it.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	var paths [][]string
	walk(newCLI(env{getenv: func(string) string { return "" }}).root, nil, func(_ *ffcli.Command, path []string) {
		if len(path) > 0 {
			paths = append(paths, path)
		}
	})
	if len(paths) < 20 {
		t.Fatalf("%d commands in the tree: %q", len(paths), paths)
	}
	return paths
}

// Every command's help, however asked for, is on stdout with exit 0: its usage
// line with its arguments, its flags, the variables it reads, never their values.
func TestCommandHelp(t *testing.T) {
	const secret = "hunter2-secret"
	vars := map[string]string{"REDIS_URL": "redis://:" + secret + "@127.0.0.1:1/0", "REDIS_PASSWORD": secret}
	for _, path := range commandPaths(t) {
		cmd := find(newCLI(env{getenv: func(string) string { return "" }}).root, path)
		asks := [][]string{
			append(slices.Clone(path), "-h"),
			append(slices.Clone(path), "-help"),
			append([]string{"help"}, path...),
		}
		if len(cmd.Subcommands) == 0 && path[0] != "help" {
			asks = append(asks, append(slices.Clone(path), "x", "-h")) // after an argument
		}
		for _, args := range asks {
			r := runWith(t, vars, nil, args...)
			name := strings.Join(args, " ")
			switch {
			case r.code != exitOK || r.stderr != "":
				t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", name, r.code, r.stderr)
			case !strings.HasPrefix(r.stdout, "usage: "+cmd.ShortUsage+"\n"):
				t.Errorf("%s: stdout starts %.80q; want its usage line %q", name, r.stdout, cmd.ShortUsage)
			case strings.Contains(r.stdout, "help requested"), strings.Contains(r.stdout, secret):
				t.Errorf("%s: help shows %q or the secret:\n%s", name, "help requested", r.stdout)
			case countFlags(cmd.FlagSet) > 0 && !strings.Contains(r.stdout, "\nflags:\n"):
				t.Errorf("%s: no flags:\n%s", name, r.stdout)
			case cmd.FlagSet.Lookup("redis") != nil && !strings.Contains(r.stdout, "REDIS_URL"):
				t.Errorf("%s: the environment section does not name REDIS_URL:\n%s", name, r.stdout)
			}
		}
	}
	// Arguments and environment of a few by name.
	for args, want := range map[string][]string{
		"status -h":          {"BATCH", "-watch", "REDIS_SENTINEL_ADDRS"},
		"resolve -h":         {"BATCH PART delivered|resend"},
		"delete -h":          {"BATCH NUMBER..."},
		"-h":                 {"FILE|-", "-vendor", "DIALQ_VENDOR", "DIALQ_CAMPAIGN", "suppress", "130/143"},
		"suppress -h":        {"import", "export"},
		"suppress import -h": {"FILE|-", "-rejects", "-strict", "DIALQ_REGION"},
	} {
		r := runWith(t, map[string]string{"DIALQ_VENDOR": "yccall"}, nil, strings.Fields(args)...)
		for _, w := range want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("enqueue %s: no %q in\n%s", args, w, r.stdout)
			}
		}
	}
}

// Unknown commands are refused by name; a file name is still input.
func TestUnknownCommands(t *testing.T) {
	h := setup(t)
	yc := campaignFile("yccall")
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"stauts", "b1"}, exitUsage, `unknown command "stauts"`},
		{[]string{"suppress", "frobnicate"}, exitUsage, `unknown command "frobnicate": suppress takes import, add`},
		{[]string{"suppress"}, exitUsage, "want one of import, add, remove, check, count, export"},
		{[]string{"help", "bogus"}, exitUsage, `help: unknown command "bogus"`},
		{[]string{"completion", "tcsh"}, exitUsage, `completion "tcsh": want bash, zsh or fish`},
		{[]string{"-vendor", "yccall", "status", "b"}, exitUsage, `"status" is a command`},
		// With flags, a word is a file name: here one that does not exist.
		{[]string{"-vendor", "yccall", "-campaign", yc, "bogus"}, exitInput, "input: open bogus"},
		{[]string{"-vendor", "yccall", "-campaign", yc, "list.csv"}, exitInput, "input: open list.csv"},
		{[]string{"list", "extra"}, exitUsage, "usage: enqueue list"},
		{[]string{"status", "-nope", "b"}, exitUsage, "flag provided but not defined: -nope"},
		{[]string{"status", "b", "-json"}, exitUsage, "flag -json after the arguments: flags go first (enqueue status [-json]"},
		{[]string{"suppress", "check", "13800138000", "-list=vip"}, exitUsage, "flag -list=vip after the arguments"},
	}
	for _, tt := range tests {
		r := h.run(tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) || strings.Contains(r.stderr, "-vendor is required") {
			t.Errorf("enqueue %q: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.stderr)
		}
	}
	h.wantNoKeys()

	// A file whose name is a plain word is input, with the flags from the environment.
	list, err := filepath.Abs(listCSV)
	if err != nil {
		t.Fatal(err)
	}
	camp, err := filepath.Abs(yc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.WriteFile("numbers", data, 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"REDIS_URL": h.db.URL, "DIALQ_VENDOR": "yccall", "DIALQ_CAMPAIGN": camp}
	if r := runWith(t, vars, nil, "numbers"); r.code != exitOK || !strings.Contains(r.stderr, "enqueued") {
		t.Errorf("enqueue numbers (a file): exit %d, stderr %q; want it enqueued", r.code, r.stderr)
	}
}

func TestVersionOnStdout(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}} {
		r := runWith(t, nil, nil, args...)
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "enqueue ") || r.stderr != "" {
			t.Errorf("%q: %+v; want exit 0 and the version on stdout", args, r)
		}
	}
}

// The bash script, run by bash, completes every command, the flags of each, and
// the values of -vendor; zsh's is the same with bashcompinit; fish's names every command.
func TestCompletion(t *testing.T) {
	r := runWith(t, nil, nil, "completion", "bash")
	if r.code != exitOK {
		t.Fatalf("completion bash: %+v", r)
	}
	script := writeFile(t, "enqueue.bash", []byte(r.stdout))
	paths := commandPaths(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	complete := func(words ...string) []string {
		t.Helper()
		// COMP_WORDS as bash splits the line; the last word is the one being completed.
		var q []string
		for _, w := range words {
			q = append(q, "'"+w+"'")
		}
		prog := "source " + script + "\nCOMP_WORDS=(enqueue " + strings.Join(q, " ") + ")\nCOMP_CWORD=" + strconv.Itoa(len(words)) + "\n_enqueue\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
		cmd.Dir = t.TempDir() // no files to offer
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	for _, path := range paths {
		parent, last := path[:len(path)-1], path[len(path)-1]
		got := complete(append(slices.Clone(parent), last[:1])...)
		if !slices.Contains(got, last) {
			t.Errorf("completing %q: %q; want %q among them", append(parent, last[:1]), got, last)
		}
		cmd := find(newCLI(env{getenv: func(string) string { return "" }}).root, path)
		if countFlags(cmd.FlagSet) > 0 {
			got := complete(append(slices.Clone(path), "-")...)
			var want []string
			for _, f := range completionTree(cmd) {
				if f.path == "" {
					want = f.flags
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("completing %q -: %q; want %q", path, got, want)
			}
		}
	}
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{"-vendor", ""}, []string{"nxcloud", "yccall", "speech", "flashai"}},
		{[]string{"-vendor", "f"}, []string{"flashai"}},
		{[]string{"suppress", "import", "-format", "j"}, []string{"jsonl"}},
		{[]string{"suppress", "i"}, []string{"import"}},
		{[]string{"-json", "-vendor", "yccall", "st"}, nil}, // an input file follows enqueue's flags
		{[]string{"-json", "-vendor", "yccall", "-"}, nil},
		{[]string{"status", "b1", "-"}, nil}, // after an argument no flag is read
	} {
		if got := complete(tt.words...); !slices.Equal(got, tt.want) {
			t.Errorf("completing %q: %q; want %q", tt.words, got, tt.want)
		}
	}

	r = runWith(t, nil, nil, "completion", "zsh")
	if r.code != exitOK || !strings.Contains(r.stdout, "bashcompinit") || !strings.Contains(r.stdout, "complete -o filenames -F _enqueue enqueue") {
		t.Errorf("completion zsh: %+v", r)
	}
	r = runWith(t, nil, nil, "completion", "fish")
	if r.code != exitOK {
		t.Fatalf("completion fish: %+v", r)
	}
	for _, path := range paths {
		parent := strings.Join(path[:len(path)-1], " ")
		line := "complete -c enqueue -n " + fishQuote("test \"x\"(__enqueue_path) = "+fishQuote("x"+parent)) + " -a " + fishQuote(path[len(path)-1])
		if !strings.Contains(r.stdout, line) {
			t.Errorf("completion fish has no line for %q (%s)", path, line)
		}
	}
}
