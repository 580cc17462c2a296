// Command airssys is the command-line tool of AirsSys-RT.
//
//	airssys demo [flags]        run the microservice example tree with random
//	                            faults and serve its live view on 127.0.0.1
//	airssys tree [flags] URL    print the tree of a service that serves the
//	                            observe HTTP API at URL
//	airssys run [flags] FILE    run a supervision tree of OS processes from YAML
//	airssys help [COMMAND]      show the help, or a command's
//	airssys version             print the version (also --version)
//
// Run "airssys help COMMAND" (or "airssys COMMAND --help") for a command's
// flags. The exit status is 0 on success, 1 when the command failed, 2 for a
// usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `airssys: the AirsSys-RT command-line tool

Usage:
  airssys demo [flags]        run the microservice example tree with random faults
                              and serve its live view on 127.0.0.1
  airssys tree [flags] URL    print the supervision tree of a service that serves
                              the observe HTTP API at URL
  airssys run [flags] FILE    run a supervision tree of OS processes from a YAML file
  airssys help [COMMAND]      show this help, or a command's
  airssys version             print the version (also --version)

Run "airssys help COMMAND" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program but for the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "tree":
		return runTree(ctx, rest, stdout, stderr)
	case "run":
		return runRun(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		return runHelp(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version())
		return exitOK
	default:
		fmt.Fprintf(stderr, "airssys: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// runHelp prints the help, or with a command name that command's, as
// "airssys COMMAND --help" does.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0, args[0] == "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case len(args) > 1:
		fmt.Fprintf(stderr, "airssys help: one command at a time, not %q\n", args)
		return exitUsage
	case args[0] == "version":
		fmt.Fprint(stdout, "Usage: airssys version\n\nPrints the version of airssys, its commit when built from a checkout, and Go's.\n")
		return exitOK
	case strings.HasPrefix(args[0], "-"):
		fmt.Fprintf(stderr, "airssys help: want a command name, not %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var discard strings.Builder
	if code := run(ctx, []string{args[0], "--help"}, stdout, &discard); code != exitOK {
		fmt.Fprintf(stderr, "airssys help: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return exitOK
}

// version describes the build: the module version ("(devel)" when built
// from a checkout), the commit and whether the tree had changes, when the
// build recorded them, and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "airssys (unknown version) " + runtime.Version()
	}
	v := "airssys " + bi.Main.Version
	if bi.Main.Version == "" {
		v = "airssys (devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		v += " " + rev[:min(len(rev), 12)]
		if modified == "true" {
			v += " (modified)"
		}
	}
	return v + " " + bi.GoVersion
}

// errUsage marks an error in the command line: exit status 2.
var errUsage = errors.New("usage")

// parseFlags parses args with fs, allowing flags after positional
// arguments ("airssys tree URL --watch"), which package flag alone stops
// at. It returns the positional arguments. On --help it prints the usage to
// stdout and returns flag.ErrHelp; a bad flag is reported on stderr, with a
// hint where the usage is, and is a usage error.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, to the stream the case calls for
	// The flag package's own message spells flags with one dash; ours is
	// printed below, as users type them.
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				usage()
				return nil, err
			}
			cmd := strings.TrimPrefix(fs.Name(), "airssys ")
			return nil, usageErrorf(stderr, cmd, "%s", twoDashes(err.Error()))
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// oneDashFlag finds a flag name spelt with one dash in the flag package's
// messages ("flag provided but not defined: -bogus", "invalid value "x" for
// flag -seed: ...").
var oneDashFlag = regexp.MustCompile(`(^|[ :])-([A-Za-z][A-Za-z0-9-]*)`)

// twoDashes respells the flags in a message of the flag package as the help
// shows them: --name.
func twoDashes(msg string) string { return oneDashFlag.ReplaceAllString(msg, "$1--$2") }

// exitCode maps the error of a command to the exit status.
func exitCode(err error, stderr io.Writer, cmd string) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		fmt.Fprintf(stderr, "airssys %s: %v\n", cmd, err)
		return exitFailure
	}
}

// newFlagSet returns a flag set whose usage prints synopsis, then the flags.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("airssys "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\nFlags:\n", synopsis)
		printDefaults(fs)
	}
	return fs
}

// printDefaults is flag.PrintDefaults with the two-dash spelling that the
// documentation uses (the flag package accepts both).
func printDefaults(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if kind != "" {
			head += " " + kind
		}
		fmt.Fprintf(fs.Output(), "%s\n    \t%s", head, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
		}
		fmt.Fprintln(fs.Output())
	})
}

// usageErrorf reports a usage error found after parsing: the message, then
// a hint, on stderr.
func usageErrorf(stderr io.Writer, cmd, format string, args ...any) error {
	fmt.Fprintf(stderr, "airssys %s: %s\nRun \"airssys help %s\" for usage.\n", cmd, fmt.Sprintf(format, args...), cmd)
	return errUsage
}
