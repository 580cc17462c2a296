//go:build unix

package process_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

// A shell script under a supervisor: it crashes with exit code 3, is
// restarted, and the crash names the code.
func Example() {
	events := make(chan supervisor.Event, 16)
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)),
		supervisor.WithEventHandler(func(e supervisor.Event) { events <- e }))
	err := sup.StartChild(process.Spec("job",
		process.Command{Path: "/bin/sh", Args: []string{"-c", "echo working; exit 3"}},
		process.WithOutput(slog.New(slog.DiscardHandler))))
	if err != nil {
		panic(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		panic(err)
	}
	for e := range events {
		if e.Kind == supervisor.EventChildFailed {
			var exit *process.ExitError
			fmt.Println("failed:", errors.As(e.Err, &exit), "code", exit.Code)
		}
		if e.Kind == supervisor.EventChildRestarted {
			fmt.Println("restarted")
			break
		}
	}
	_ = sup.Stop()
	// Output:
	// failed: true code 3
	// restarted
}

// The last lines a child wrote stay readable, across its restarts, for
// a live view.
func ExampleProcess_Output() {
	spec := process.Spec("greeter",
		process.Command{Path: "/bin/sh", Args: []string{"-c", "echo hello; echo world"}},
		process.WithOutput(slog.New(slog.DiscardHandler)))
	child := spec.New()
	ctx := context.Background()
	if err := child.(supervisor.Starter).Start(ctx); err != nil {
		panic(err)
	}
	fmt.Println("exit:", child.Serve(ctx))
	for _, l := range child.(*process.Process).Output() {
		fmt.Println(l.Stream, l.Text)
	}
	// Output:
	// exit: <nil>
	// stdout hello
	// stdout world
}

// A crash-looping child has no running incarnation most of the time; its
// spec's Observable, in supervisor.ChildInfo, still gives its last lines:
// here while it waits an hour (a backoff) for its restart.
func Example_outputBetweenRestarts() {
	events := make(chan supervisor.Event, 16)
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)),
		supervisor.WithEventHandler(func(e supervisor.Event) { events <- e }),
		supervisor.WithBackoff(supervisor.Backoff{Initial: time.Hour}))
	err := sup.StartChild(process.Spec("migrate",
		process.Command{Path: "/bin/sh", Args: []string{"-c", "echo 'schema v7: column exists'; exit 1"}},
		process.WithOutput(slog.New(slog.DiscardHandler))))
	if err != nil {
		panic(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		panic(err)
	}
	for e := range events {
		if e.Kind == supervisor.EventChildRestartScheduled {
			break
		}
	}
	ci := sup.WhichChildren()[0]
	fmt.Println(ci.Name, ci.State, "instance:", ci.Instance != nil)
	if kept, ok := ci.Observable.(interface{ Lines() []process.Line }); ok {
		for _, l := range kept.Lines() {
			fmt.Println(l.Stream, l.Text)
		}
	}
	_ = sup.Stop()
	// Output:
	// migrate restarting instance: false
	// stdout schema v7: column exists
}

// Bad input is an error, never a panic; NewSpec reports it at once.
func ExampleNewSpec() {
	_, err := process.NewSpec("api", process.Command{},
		process.WithReady(process.TCPProbe("127.0.0.1:8080"), 30*time.Second))
	fmt.Println(errors.Is(err, process.ErrInvalidCommand), errors.Is(err, supervisor.ErrInvalidSpec))
	fmt.Println(err)
	// Output:
	// true true
	// process "api": invalid child spec: invalid command: empty Path
}
