// Command stackmargin restarts crashing children with the runtime's stack
// limit lowered to a new goroutine's starting size, so that any growth of
// a fresh stack is fatal. It guards the crash path's stack margin: the
// frames from an activation's start to its exit report (and from a plain
// child's start to its report) must fit in the 2 KB a goroutine starts
// with, or every restart grows and copies the stack, which doubles the
// restart's latency (see benchmarks/BENCHMARKS.md, "The crash path without
// stack growth"). Run by TestCrashPathFitsTheStartingStack, built without
// -race (the race detector's frames are larger).
//
// Usage: stackmargin actor|plain error|panic|overflow
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
)

// startingStack is the runtime's starting stack size (fixedStack on linux,
// darwin and windows/amd64 builds without the race detector).
const startingStack = 2048

var errBoom = errors.New("boom")

// depth is read by overflow's recursion so that the compiler keeps it.
var depth int

// overflow uses far more than a starting stack: the self-check that the
// lowered limit does catch a growth.
func overflow(n int) int {
	var pad [256]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return overflow(n-1) + int(pad[n%len(pad)])
}

func crash(mode string) error {
	switch mode {
	case "panic":
		panic(errBoom)
	case "overflow":
		depth += overflow(64)
	}
	return errBoom
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: stackmargin actor|plain error|panic|overflow")
		os.Exit(2)
	}
	kind, mode := os.Args[1], os.Args[2]
	sup := supervisor.New("margin", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)),
		supervisor.WithIntensity(1<<30, time.Microsecond))
	if err := sup.Start(context.Background()); err != nil {
		fail(err)
	}
	var restarts func(n int)
	switch kind {
	case "actor":
		restarts = actorRestarts(sup, mode)
	case "plain":
		restarts = plainRestarts(sup, mode)
	default:
		fail(fmt.Errorf("unknown kind %q", kind))
	}
	// Warm up with the default limit: the goroutines that live on (this
	// one, the supervisor's) grow here, once, as they may, and the
	// runtime's per-site type-assertion caches fill (a miss builds one
	// about once in 1,024 calls, allocating, on the panicking goroutine).
	restarts(30_000)
	debug.SetGCPercent(-1) // no mark workers starting (and growing) in the window
	runtime.GC()
	fillSudogCaches()
	old := debug.SetMaxStack(startingStack)
	restarts(10_000)
	debug.SetMaxStack(old)
	if err := sup.Stop(); err != nil {
		fail(err)
	}
	fmt.Println("ok")
}

// actorRestarts returns n restarts of an actor whose Receive crashes on
// true and reports false, as benchmarks' ActorRestart does.
func actorRestarts(sup *supervisor.Supervisor, mode string) func(n int) {
	handled := make(chan time.Time, 1)
	ref, err := actor.Spawn(sup, "crashy", func() actor.Actor[bool] {
		return actor.Func[bool](func(_ *actor.Context[bool], crashNow bool) error {
			if crashNow {
				return crash(mode)
			}
			handled <- time.Now()
			return nil
		})
	})
	if err != nil {
		fail(err)
	}
	return func(n int) {
		for range n {
			_ = ref.Send(true)
			_ = ref.Send(false)
			<-handled
		}
	}
}

// plainRestarts returns n restarts of a plain child (a goroutine running
// Serve) that crashes as soon as it starts, but for the last of each
// series, which reports and waits to be told to crash. Waiting on a fresh
// stack can allocate (a wait record, see fillSudogCaches), so only one
// incarnation in a series does it.
func plainRestarts(sup *supervisor.Supervisor, mode string) func(n int) {
	var left atomic.Int64
	done, again := make(chan struct{}), make(chan struct{})
	err := sup.SpawnChild("plain", supervisor.ChildFunc(func(ctx context.Context) error {
		if left.Add(-1) < 0 {
			done <- struct{}{} // main waits for it: a direct hand-off
			select {
			case <-again:
			case <-ctx.Done():
				return nil
			}
		}
		return crash(mode)
	}))
	if err != nil {
		fail(err)
	}
	<-done
	return func(n int) {
		left.Store(int64(n - 1)) // the waiting one crashes first
		again <- struct{}{}
		<-done
	}
}

// fillSudogCaches leaves the runtime many spare wait records (sudogs).
// A goroutine that blocks on a contended lock takes one from its
// processor's cache, or from the central one, or allocates one; the
// allocator's slow path is deeper than any crash path and would grow the
// stack on the library's account about once in 100,000 restarts. With the
// collector off (it empties these caches), the records made here last.
func fillSudogCaches() {
	const n = 4096
	var wg sync.WaitGroup
	var blocked atomic.Int64
	release := make(chan struct{})
	for range n {
		wg.Go(func() {
			blocked.Add(1)
			<-release
		})
	}
	for blocked.Load() < n {
		runtime.Gosched()
	}
	time.Sleep(10 * time.Millisecond) // the last ones park on release
	close(release)
	wg.Wait()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "stackmargin:", err)
	os.Exit(1)
}
