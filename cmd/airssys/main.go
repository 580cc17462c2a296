// Command airssys is the command-line tool of AirsSys-RT.
//
//	airssys demo [flags]        run the microservice example tree with random
//	                            faults and serve its live view on 127.0.0.1
//	airssys tree [flags] URL    print the tree of a service that serves the
//	                            observe HTTP API at URL
//
// Run "airssys COMMAND --help" for a command's flags. The exit status is 0
// on success, 1 when the command failed, 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
  airssys help                show this help

Run "airssys COMMAND --help" for the flags of a command.
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
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "airssys: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// errUsage marks an error in the command line: exit status 2.
var errUsage = errors.New("usage")

// parseFlags parses args with fs, allowing flags after positional
// arguments ("airssys tree URL --watch"), which package flag alone stops
// at. It returns the positional arguments. On --help it prints the usage to
// stdout and returns flag.ErrHelp; on a bad flag, the flag package has
// reported it on stderr and the usage follows there.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, to the stream the case calls for
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				usage()
				return nil, err
			}
			usage()
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

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
	fmt.Fprintf(stderr, "airssys %s: %s\nRun \"airssys %s --help\" for usage.\n", cmd, fmt.Sprintf(format, args...), cmd)
	return errUsage
}
