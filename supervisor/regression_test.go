package supervisor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/health"
)

// Reported while writing the examples: a handler that calls Stop (on its
// own supervisor, or on an ancestor) deadlocked, because the run waited
// for the handler's delivery to finish before Stop could return.
func TestRegressionStopFromEventHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var s *Supervisor
		stopped := make(chan error, 1)
		s = New("root", OneForOne, Permanent, quiet, WithEventHandler(func(e Event) {
			if e.Kind == EventChildFailed {
				stopped <- s.Stop()
			}
		}))
		r.add(t, s, "w")
		mustStart(t, s)
		r.crash("w", errBoom)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		<-s.Done()
	})
}

func TestRegressionStopAncestorFromNestedHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		root := New("root", OneForOne, Permanent, quiet)
		stopped := make(chan error, 1)
		sub := New("sub", OneForOne, Permanent, WithEventHandler(func(e Event) {
			if e.Kind == EventChildFailed {
				stopped <- root.Stop()
			}
		}))
		r.add(t, sub, "w")
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		r.crash("w", errBoom)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
	})
}

// Reported while writing the examples: cancelling a subscription from
// inside its own handler never returned.
func TestRegressionCancelSubscriptionFromItsHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "w")
		mustStart(t, s)
		var cancel func()
		var calls int
		var mu sync.Mutex
		cancel = s.Subscribe(func(Event) {
			mu.Lock()
			calls++
			mu.Unlock()
			cancel()
		})
		r.crash("w", errBoom)
		synctest.Wait()
		mu.Lock()
		got := calls
		mu.Unlock()
		if got != 1 {
			t.Fatalf("handler ran %d times after cancelling itself", got)
		}
		mustStop(t, s)
	})
}

// slowCheck ignores cancellation for a while before answering.
type slowCheck struct{ hold time.Duration }

func (s *slowCheck) Serve(ctx context.Context) error { <-ctx.Done(); return nil }
func (s *slowCheck) CheckHealth(ctx context.Context) health.Status {
	time.Sleep(s.hold)
	return health.Healthy()
}

// Reported while writing the examples: a health check still running when
// the supervisor stopped outlived Stop, unreported. Now Stop waits for it
// up to its timeout, and reports one that outlives that.
func TestRegressionHealthCheckOutlivingStop(t *testing.T) {
	for _, tc := range []struct {
		hold      time.Duration
		abandoned bool
	}{{time.Second, false}, {time.Hour, true}} {
		synctest.Test(t, func(t *testing.T) {
			var ev eventLog
			s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
			err := s.Child("w").HealthCheckInterval(time.Second).HealthCheckTimeout(5 * time.Second).
				SpawnFunc(func() Child { return &slowCheck{hold: tc.hold} })
			if err != nil {
				t.Fatal(err)
			}
			mustStart(t, s)
			time.Sleep(time.Second + time.Millisecond) // a check is now in flight
			done := make(chan struct{})
			go func() {
				mustStop(t, s)
				close(done)
			}()
			synctest.Wait()
			select {
			case <-done:
				t.Fatal("Stop returned while a health check was running")
			default:
			}
			<-done
			if _, ok := ev.find(EventChildAbandoned); ok != tc.abandoned {
				t.Fatalf("hold %v: abandoned event = %v", tc.hold, ok)
			}
			time.Sleep(2 * time.Hour)
		})
	}
}

// Reported while writing the examples: a restart reset a child's health to
// healthy without an event, so observers kept showing it unhealthy.
func TestRegressionHealthResetOnRestartIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		var mu sync.Mutex
		script := []health.Status{health.Unhealthy("down")}
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		err := s.Child("w").HealthCheckInterval(time.Second).UnhealthyThreshold(1).
			SpawnFunc(func() Child { return &sick{mu: &mu, script: &script} })
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		var states []health.State
		ev.mu.Lock()
		for _, e := range ev.ev {
			if e.Kind == EventHealthChanged {
				states = append(states, e.Health.State)
			}
		}
		ev.mu.Unlock()
		if len(states) != 2 || states[0] != health.StateUnhealthy || states[1] != health.StateHealthy {
			t.Fatalf("health events %v", states)
		}
		// The restart's recorded failure is the health verdict, matchable.
		if ci := childInfo(t, s, "w"); !errors.Is(ci.LastErr, ErrUnhealthy) || ci.Restarts != 1 {
			t.Fatalf("after the health restart: %+v", ci)
		}
		mustStop(t, s)
	})
}

// Reported by the actor package: a Dispose hook that called back into its
// supervisor deadlocked Stop, because hooks ran with the mutex held.
func TestRegressionDisposeMayCallTheSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s *Supervisor
		s = New("top", OneForOne, Permanent, quiet)
		var counts []ChildCounts
		spec := Spec{Name: "w", New: func() Child { return idleChild{} },
			Dispose: func(error) { counts = append(counts, s.CountChildren()) }}
		if err := s.StartChild(spec); err != nil {
			t.Fatal(err)
		}
		spec.Name = "x"
		if err := s.StartChild(spec); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChild("x"); err != nil { // before Start: offline path
			t.Fatal(err)
		}
		mustStart(t, s)
		mustStop(t, s) // the end of a top-level tree disposes w
		if len(counts) != 2 {
			t.Fatalf("Dispose ran %d times", len(counts))
		}
	})
}

func TestStartChildrenIsOneAllOrNothingCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("top", OneForOne, Permanent, quiet)
		mustStart(t, s)
		if err := s.StartChildren(r.spec("a", Permanent), r.spec("a", Permanent)); !errors.Is(err, ErrAlreadyPresent) {
			t.Fatalf("duplicate within a batch: %v", err)
		}
		if err := s.StartChildren(r.spec("a", Permanent), r.spec("b", Permanent)); err != nil {
			t.Fatal(err)
		}
		r.j.expect(t, "start a", "start b")
		mustStop(t, s)
	})
}
