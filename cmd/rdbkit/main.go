// Command rdbkit reads, checks, exports and migrates Redis snapshots
// (dump.rdb files) and live Redis data. See DESIGN.md for the command-line
// contract.
//
// Exit codes: 0 success; 1 failure (a corrupt file for info and check, an
// unreadable file, any other error); 2 a usage error (unknown command or
// flag, missing or extra argument, bad flag value); 130 interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startCPUProfile(os.Getenv("RDBKIT_CPUPROFILE"), os.Stderr)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// startCPUProfile writes a CPU profile of the whole run to file, for
// `go tool pprof` (RDBKIT_CPUPROFILE=file; see BENCHMARKS.md). It returns
// the function that ends it.
func startCPUProfile(file string, stderr io.Writer) func() {
	if file == "" {
		return func() {}
	}
	f, err := os.Create(file)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "rdbkit: RDBKIT_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// run runs the command line args (program name first) and returns the exit
// code; errors are printed on stderr as "rdbkit: <message>".
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, permuteArgs(app, args))
	var usage *usageError
	var reported *reportedError
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &reported):
		return exitFailure
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "rdbkit: %v\n", err)
		if usage.cmd != "" {
			fmt.Fprintf(stderr, "Run 'rdbkit %s --help' for usage.\n", usage.cmd)
		} else {
			fmt.Fprintln(stderr, "Run 'rdbkit --help' for usage.")
		}
		return exitUsage
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintln(stderr, "rdbkit: interrupted")
		return exitInterrupted
	case errors.As(err, &coded): // e.g. compare: 2 when it could not compare
		fmt.Fprintf(stderr, "rdbkit: %v\n", err)
		return coded.ExitCode()
	default:
		fmt.Fprintf(stderr, "rdbkit: %v\n", err)
		return exitFailure
	}
}

// A usageError is a command line that does not follow a command's usage:
// exit code 2.
type usageError struct {
	cmd string // the command, "" for the app
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// A reportedError is a failure that the command already reported in its
// output (check's "corrupt: ..." line): exit code 1, and nothing more on
// stderr.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

// newApp returns the rdbkit command line writing to stdout and stderr. Its
// ExitErrHandler does nothing, so that RunContext returns every error to
// the caller instead of exiting.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "rdbkit",
		Usage:     "read, check, export and migrate Redis snapshots",
		UsageText: "rdbkit COMMAND [options] FILE",
		Writer:    stdout,
		ErrWriter: stderr,
		Commands: []*cli.Command{
			infoCommand(),
			keysCommand(),
			checkCommand(),
			exportCommand(),
			memoryCommand(),
			fetchCommand(),
			restoreCommand(),
			syncCommand(),
			probeCommand(),
			compareCommand(),
			copyCommand(),
		},
		HideVersion:    true,
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &usageError{err: err}
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("", "unknown command %q", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, cmd := range app.Commands {
		name := cmd.Name
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return &usageError{cmd: name, err: err}
		}
	}
	return app
}

// fileArg returns the single FILE argument of a command.
func fileArg(c *cli.Context) (string, error) {
	switch c.NArg() {
	case 0:
		return "", usagef(c.Command.Name, "missing FILE argument")
	case 1:
		return c.Args().First(), nil
	}
	return "", usagef(c.Command.Name, "too many arguments: %s", strings.Join(c.Args().Slice()[1:], " "))
}

// fileOptions are the options of check, info and keys: one FILE, --json
// and the filters.
type fileOptions struct {
	file       string
	json       bool
	filter     filterOptions
	now        time.Time // for --no-expired, and what "expired" is measured against
	maxPayload int       // rdb.Reader.MaxPayload; 0: the default
}

// fileCommand completes cmd, a command that reads one FILE (check, info,
// keys): the FILE argument, --json (jsonUsage) and the filters, given to
// run with the App's writer.
func fileCommand(cmd *cli.Command, jsonUsage string, run func(context.Context, fileOptions, io.Writer) error) *cli.Command {
	cmd.ArgsUsage = "FILE"
	cmd.Flags = append([]cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: jsonUsage},
	}, filterFlags()...)
	cmd.Action = func(c *cli.Context) error {
		file, err := fileArg(c)
		if err != nil {
			return err
		}
		return run(c.Context, fileOptions{
			file:   file,
			json:   c.Bool("json"),
			filter: filterOptionsFrom(c),
			now:    time.Now(),
		}, c.App.Writer)
	}
	return cmd
}

// openInput opens a file to read, "-" for the standard input.
func openInput(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(path)
}

// permuteArgs lets flags follow the arguments of a command, as in
// "rdbkit keys dump.rdb --json" (the flag package stops at the first
// argument): it moves the command's flags before its arguments, which it
// puts after "--" so that none is taken for a flag. Arguments after a "--"
// stay arguments. A command line it does not understand is returned as is,
// for the app to report.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" {
		i++ // app flags: --help only, they take no value
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		tv, ok := f.(interface{ TakesValue() bool })
		for _, n := range f.Names() {
			takesValue[n] = ok && tv.TakesValue()
		}
	}
	out := append([]string(nil), args[:i+1]...)
	var pos []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			pos = append(pos, rest[j+1:]...)
			j = len(rest)
		case len(a) > 1 && a[0] == '-':
			out = append(out, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if takesValue[name] && j+1 < len(rest) {
				j++
				out = append(out, rest[j])
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 {
		out = append(append(out, "--"), pos...)
	}
	return out
}
