package supervisor

// Adversarial tests of the exit report of Launchers (audit2): a child
// that reports its end from inside Launch, before the supervisor has
// finished starting it, on the lane and through the control loop.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// a2SyncExit is a Launcher that ends inside Launch: exit is called before
// Launch returns, with err.
type a2SyncExit struct{ err error }

func (a a2SyncExit) Serve(context.Context) error                { return a.err }
func (a a2SyncExit) Launch(_ context.Context, exit func(error)) { exit(a.err) }

// a2EventLog checks each child's events for a valid order: one end per
// start, nothing after a removal but a new start.
type a2EventLog struct {
	mu     sync.Mutex
	up     map[string]bool
	gone   map[string]bool
	counts map[string]map[EventKind]int
	bad    []string
}

func (l *a2EventLog) handle(ev Event) {
	if ev.Child == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts[ev.Child] == nil {
		l.counts[ev.Child] = map[EventKind]int{}
	}
	l.counts[ev.Child][ev.Kind]++
	switch ev.Kind {
	case EventChildStarted, EventChildRestarted:
		if l.up[ev.Child] {
			l.bad = append(l.bad, fmt.Sprintf("%s: %v while up", ev.Child, ev.Kind))
		}
		l.up[ev.Child], l.gone[ev.Child] = true, false
	case EventChildExited, EventChildFailed, EventChildStopped, EventChildAbandoned:
		if !l.up[ev.Child] {
			l.bad = append(l.bad, fmt.Sprintf("%s: %v while down", ev.Child, ev.Kind))
		}
		l.up[ev.Child] = false
	case EventChildRemoved:
		if l.up[ev.Child] || l.gone[ev.Child] {
			l.bad = append(l.bad, fmt.Sprintf("%s: removed while up or gone", ev.Child))
		}
		l.gone[ev.Child] = true
	}
}

// TestRegressionAudit2OwnExitBeforeStopIsNotStopped starts children whose exit comes
// from inside Launch (so before the start has been recorded), as
// Temporary, Transient and Permanent children of OneForOne (the lane) and
// OneForAll (the loop) supervisors, from several goroutines at once. It
// catches an exit reported before its start being lost, doubled or taken
// for another incarnation's (events out of order, a child left running),
// and a supervisor that hangs or leaks (goleak) when restarts of such a
// child exceed its intensity.
//
// The bug it found: a Temporary lane child that had failed on its own,
// its exit with the lane's reaper (which yields before it reaps), was
// taken by a Stop that began after StartChild returned and reported as
// child_stopped, its error lost from the events, the log and LastErr.
// stopChild now reports an incarnation that had ended before it was asked
// to stop as exited or failed.
func TestRegressionAudit2OwnExitBeforeStopIsNotStopped(t *testing.T) {
	for _, st := range []Strategy{OneForOne, OneForAll} {
		for _, pol := range []RestartPolicy{Temporary, Transient, Permanent} {
			for _, childErr := range []error{nil, errBoom} {
				name := fmt.Sprintf("%v/%v/err=%v", st, pol, childErr)
				t.Run(name, func(t *testing.T) {
					l := &a2EventLog{up: map[string]bool{}, gone: map[string]bool{}, counts: map[string]map[EventKind]int{}}
					s := New("s", st, Permanent, quiet, WithIntensity(50, time.Hour), WithEventHandler(l.handle))
					if err := s.Start(context.Background()); err != nil {
						t.Fatal(err)
					}
					var wg sync.WaitGroup
					for g := range 4 {
						wg.Go(func() {
							for i := range 10 {
								spec := Spec{Name: fmt.Sprintf("c%d-%d", g, i), Restart: pol,
									New: func() Child { return a2SyncExit{childErr} }}
								if err := s.StartChild(spec); err != nil && !errors.Is(err, ErrStopped) {
									t.Errorf("StartChild: %v", err)
								}
							}
						})
					}
					wg.Wait()
					done := make(chan error, 1)
					go func() { done <- s.Stop() }()
					select {
					case err := <-done:
						restarts := pol == Permanent || pol == Transient && childErr != nil
						if err != nil && !(restarts && errors.Is(err, ErrIntensityExceeded)) {
							t.Fatalf("Stop: %v", err)
						}
					case <-time.After(20 * time.Second):
						t.Fatal("Stop hangs")
					}
					l.mu.Lock()
					defer l.mu.Unlock()
					for _, b := range l.bad {
						t.Error(b)
					}
					for name, up := range l.up {
						if up {
							t.Errorf("%s: up after Stop", name)
						}
					}
					for name, c := range l.counts {
						starts := c[EventChildStarted] + c[EventChildRestarted]
						ends := c[EventChildExited] + c[EventChildFailed] + c[EventChildStopped] + c[EventChildAbandoned]
						if starts != ends {
							t.Errorf("%s: %d starts, %d ends (%v)", name, starts, ends, c)
						}
						// Every incarnation ended on its own before Stop began
						// (inside Launch, before StartChild returned): none was
						// stopped by the supervisor, and a failure is reported
						// as one, not lost behind a "stopped".
						// (Restarted children may instead meet the shutdown of a
						// supervisor that gave up, under way while they start.)
						gaveUp := pol == Permanent || pol == Transient && childErr != nil
						if !gaveUp && c[EventChildStopped] != 0 {
							t.Errorf("%s: an incarnation that had ended on its own reported stopped (%v)", name, c)
						}
					}
				})
			}
		}
	}
}
