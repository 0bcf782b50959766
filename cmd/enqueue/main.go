// Command enqueue streams a phone-number list into Redis as vendor-sized parts for
// the worker fleet, and answers operators' questions about batches.
//
//	enqueue -vendor V -campaign C.json [flags] FILE|-
//	enqueue status|list|failures|retry|resolve|cancel|control|delete|suppress|audit ...
//
// The command tree is github.com/peterbourgon/ff/v3's ffcli over Go's standard flag
// package, so single-dash flags (-vendor, -json) keep their meaning.
//
// Adding a subcommand: one file with a constructor and an init that registers it.
//
//	func init() { register(fooCmd) }
//
//	func fooCmd(e env) *ffcli.Command {
//		fs, rf := newFlagSet("foo", true) // true: it takes -redis
//		asJSON := fs.Bool("json", false, "print JSON on stdout")
//		return &ffcli.Command{
//			Name: "foo", ShortUsage: "enqueue foo [-json] BATCH", ShortHelp: "one line for enqueue -h",
//			FlagSet: fs,
//			Exec: func(ctx context.Context, args []string) error { … rf.config(e) … },
//		}
//	}
//
// Help (-h, help foo), the environment section, completion and the refusal of
// unknown commands follow from the tree: name the arguments in ShortUsage and read
// variables through envString (or -redis), so that -h lists them. Return usageErr
// (exit 1), inputErr (exit 2) or an *exitError.
//
// Exit codes: 0 done; 1 usage or configuration error (nothing written); 2 input
// unreadable or Redis unreachable (nothing half-written); 3 -strict and rows
// rejected; 130 and 143 stopped by SIGINT or SIGTERM (nothing written before the
// commit).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Exit codes.
const (
	exitOK     = 0
	exitUsage  = 1
	exitInput  = 2
	exitStrict = 3
	// 128 + the signal's number, as shells report it.
	exitSIGINT  = 130
	exitSIGTERM = 143
)

// exitError carries the exit code with the message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func inputErr(err error) error { return &exitError{code: exitInput, err: err} }

// env is what a run sees of the world; tests supply their own.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// isTerminal reports whether stderr is a terminal (progress bar).
	isTerminal bool
}

// quietRedis drops go-redis's own log lines: the command reports Redis failures
// itself, once, with its exit code.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...interface{}) {}

func main() {
	redis.SetLogger(quietRedis{})
	ctx, stopped := signalContext()
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, isTerminal: stderrIsTerminal()}
	flush, err := startTracing(ctx, e.getenv)
	if err == nil {
		err = run(ctx, os.Args[1:], e)
		flush()
	}
	os.Exit(exitCode(stopped(err), e.stderr))
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one ends the
// process at once. stopped turns run's error into the signal's exit code: the
// command was stopped, whatever the error it unwound with.
func signalContext() (context.Context, func(error) error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(&signalError{s})
		s = <-sigs
		fmt.Fprintf(os.Stderr, "enqueue: %v again: stopping without cleaning up\n", s)
		os.Exit(signalCode(s))
	}()
	return ctx, func(err error) error {
		var se *signalError
		if !errors.As(context.Cause(ctx), &se) {
			return err
		}
		if err == nil || err.Error() == context.Canceled.Error() {
			return &exitError{code: signalCode(se.sig), err: se}
		}
		msg := strings.TrimSuffix(err.Error(), ": "+context.Canceled.Error())
		return &exitError{code: signalCode(se.sig), err: fmt.Errorf("%v: %s", se, msg)}
	}
}

type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return "stopped by " + sigName(e.sig) }

func sigName(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}

func signalCode(s os.Signal) int {
	if s == syscall.SIGTERM {
		return exitSIGTERM
	}
	return exitSIGINT
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "enqueue:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitInput
}

// run parses args against the command tree and runs the command they name.
func run(ctx context.Context, args []string, e env) error {
	return newCLI(e).run(ctx, args, e)
}
