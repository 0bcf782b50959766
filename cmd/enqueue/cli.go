package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/dialq/dialq/internal/redisconf"
)

// commands holds the subcommands' constructors (see register in main.go).
var commands []func(e env) *ffcli.Command

// register adds a subcommand; call it from an init function beside the command.
func register(newCmd ...func(e env) *ffcli.Command) { commands = append(commands, newCmd...) }

// cli is one run's command tree and the buffer its flag sets write to: flag's own
// messages go there, so that help reaches stdout and a parse error is reported
// once, by exitCode, without "flag: help requested".
type cli struct {
	root *ffcli.Command
	out  bytes.Buffer
}

func newCLI(e env) *cli {
	c := &cli{root: rootCmd(e)}
	for _, newCmd := range commands {
		c.root.Subcommands = append(c.root.Subcommands, newCmd(e))
	}
	c.root.Subcommands = append(c.root.Subcommands, helpCmd(e, c), completionCmd(e, c))
	slices.SortStableFunc(c.root.Subcommands, func(a, b *ffcli.Command) int { return strings.Compare(a.Name, b.Name) })
	walk(c.root, nil, func(cmd *ffcli.Command, path []string) {
		if cmd.FlagSet == nil {
			// ffcli would make one that exits the process on an error.
			cmd.FlagSet = flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
		}
		cmd.FlagSet.SetOutput(&c.out)
		cmd.UsageFunc = usageText
		if len(path) > 0 {
			cmd.Exec = c.guard(cmd, path, cmd.Exec)
		}
	})
	return c
}

// run parses args and runs the command they select.
func (c *cli) run(ctx context.Context, args []string, e env) error {
	err := c.root.Parse(args)
	if err == nil {
		err = c.root.Run(ctx)
	}
	var noExec ffcli.NoExecError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		_, werr := e.stdout.Write(c.out.Bytes())
		return werr
	case errors.As(err, &noExec):
		// A group of subcommands named alone (enqueue suppress).
		fmt.Fprint(e.stderr, usageText(noExec.Command))
		return usageErr("%s: want one of %s", noExec.Command.ShortUsage, strings.Join(names(noExec.Command.Subcommands), ", "))
	case strings.HasPrefix(err.Error(), "error parsing commandline arguments: "):
		// ff's wrapping of flag's error; the usage flag printed is dropped.
		return usageErr("%v (-h shows the flags)", errors.Unwrap(err))
	}
	return err
}

// guard wraps a subcommand's Exec: the root's flags (-vendor …) before a
// subcommand's name are refused, and -h after the arguments is help.
func (c *cli) guard(cmd *ffcli.Command, path []string, exec func(context.Context, []string) error) func(context.Context, []string) error {
	if exec == nil {
		// A group: an unknown subcommand is refused by name.
		return func(_ context.Context, args []string) error {
			if len(args) == 0 {
				return ffcli.NoExecError{Command: cmd}
			}
			return usageErr("unknown command %q: %s takes %s (enqueue help %s)", args[0],
				strings.Join(path, " "), strings.Join(names(cmd.Subcommands), ", "), strings.Join(path, " "))
		}
	}
	return func(ctx context.Context, args []string) error {
		if c.root.FlagSet.NFlag() > 0 {
			return usageErr("%q is a command: the flags of enqueue -vendor … go with an input file (write ./%s for a file of that name)", path[0], path[0])
		}
		for _, a := range args {
			if a == "-h" || a == "-help" || a == "--help" {
				return flag.ErrHelp
			}
		}
		if interspersedCmds[strings.Join(path, " ")] {
			// This command reads as operators type it: its flags may follow its
			// arguments (enqueue resolve BATCH -all -delivered).
			if err := cmd.FlagSet.Parse(interspersed(args, cmd.FlagSet)); err != nil {
				return usageErr("%v (%s)", err, cmd.ShortUsage)
			}
			return exec(ctx, cmd.FlagSet.Args())
		}
		for _, a := range args {
			// Go's flag stops at the first argument: a flag after it would be taken
			// for an argument.
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if strings.HasPrefix(a, "-") && cmd.FlagSet.Lookup(name) != nil {
				return usageErr("flag %s after the arguments: flags go first (%s)", a, cmd.ShortUsage)
			}
		}
		return exec(ctx, args)
	}
}

func names(cmds []*ffcli.Command) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.Name
	}
	return out
}

// walk calls fn on cmd and every command below it, with its path of names.
func walk(cmd *ffcli.Command, path []string, fn func(*ffcli.Command, []string)) {
	fn(cmd, path)
	for _, sub := range cmd.Subcommands {
		walk(sub, append(slices.Clone(path), sub.Name), fn)
	}
}

// find returns the command at path below root, or nil.
func find(root *ffcli.Command, path []string) *ffcli.Command {
	cmd := root
	for _, name := range path {
		i := slices.IndexFunc(cmd.Subcommands, func(c *ffcli.Command) bool { return c.Name == name })
		if i < 0 {
			return nil
		}
		cmd = cmd.Subcommands[i]
	}
	return cmd
}

// redisEnv is what every command that takes -redis reads.
var redisEnv = []string{redisconf.EnvURL, redisconf.EnvClusterAddrs, redisconf.EnvSentinelAddrs, redisconf.EnvSentinelMaster,
	redisconf.EnvUsername, redisconf.EnvPassword, redisconf.EnvSentinelPassword, redisconf.EnvTLS}

// envRef is how a flag's help names the variable it defaults from: "($DIALQ_VENDOR)".
var envRef = regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)`)

// usageText is every command's help: usage line with its arguments, description,
// subcommands, flags and the environment variables it reads. Variables are named,
// never shown: REDIS_URL may hold a password.
func usageText(cmd *ffcli.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n", cmd.ShortUsage)
	if cmd.ShortHelp != "" {
		fmt.Fprintf(&b, "\n%s\n", cmd.ShortHelp)
	}
	if cmd.LongHelp != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(cmd.LongHelp))
	}
	if len(cmd.Subcommands) > 0 {
		b.WriteString("\ncommands:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, sub := range cmd.Subcommands {
			fmt.Fprintf(tw, "  %s\t%s\n", sub.Name, sub.ShortHelp)
		}
		tw.Flush()
	}
	var vars []string
	if n := countFlags(cmd.FlagSet); n > 0 {
		b.WriteString("\nflags:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		cmd.FlagSet.VisitAll(func(f *flag.Flag) {
			arg, help := flag.UnquoteUsage(f)
			if arg != "" {
				arg = " " + arg
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(tw, "  -%s%s\t%s%s\n", f.Name, arg, help, def)
			if f.Name == "redis" {
				vars = append(vars, redisEnv...)
			}
			for _, m := range envRef.FindAllStringSubmatch(f.Usage, -1) {
				vars = append(vars, m[1])
			}
		})
		tw.Flush()
	}
	if vars = dedupe(vars); len(vars) > 0 {
		fmt.Fprintf(&b, "\nenvironment (values not shown):\n  %s\n", strings.Join(vars, " "))
	}
	return b.String()
}

func countFlags(fs *flag.FlagSet) (n int) {
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { n++ })
	}
	return n
}

func dedupe(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// newFlagSet is a subcommand's flag set; with withRedis, it takes -redis.
func newFlagSet(name string, withRedis bool) (*flag.FlagSet, *redisFlag) {
	fs := flag.NewFlagSet("enqueue "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if !withRedis {
		return fs, nil
	}
	rf := &redisFlag{}
	// No default from $REDIS_URL: -h prints defaults, and the URL may hold a password.
	fs.StringVar(&rf.url, "redis", "", redisconf.FlagHelp)
	return fs, rf
}

// redisFlag is -redis: empty means REDIS_URL, REDIS_CLUSTER_ADDRS or
// REDIS_SENTINEL_ADDRS (see internal/redisconf).
type redisFlag struct{ url string }

func (rf *redisFlag) config(e env) (*redisconf.Config, error) {
	rcfg, err := redisconf.Load(e.getenv, rf.url)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return rcfg, nil
}

// envString defines a string flag whose default is read from the variable name
// (named in the help, so that -h lists it under environment).
func envString(fs *flag.FlagSet, e env, p *string, flagName, envName, def, help string) {
	v := e.getenv(envName)
	if v == "" {
		v = def
	}
	fs.StringVar(p, flagName, v, fmt.Sprintf("%s ($%s)", help, envName))
}

// isFile reports whether name exists on disk (a file name that is also a word).
func isFile(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}
