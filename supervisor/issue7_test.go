package supervisor

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/health"
)

// Issue 7, item 3: health checks configured on a child that cannot be
// checked never ran, silently.
func TestRegressionHealthWithoutCheckerIsInvalidSpec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		spec := r.spec("w", Permanent)
		spec.Health = HealthPolicy{Interval: time.Second}

		// Before Start New has not run: the first start fails, naming the child.
		s := New("root", OneForOne, Permanent, quiet)
		if err := s.StartChild(spec); err != nil {
			t.Fatal(err)
		}
		err := s.Start(context.Background())
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), `"w"`) {
			t.Fatalf("Start = %v, want ErrInvalidSpec naming w", err)
		}

		// While running, StartChild fails and keeps nothing.
		s = New("root", OneForOne, Permanent, quiet)
		mustStart(t, s)
		if err := s.StartChild(spec); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), `"w"`) {
			t.Fatalf("StartChild = %v", err)
		}
		if n := s.CountChildren(); n.Specs != 0 {
			t.Fatalf("kept %+v", n)
		}

		// Spawn knows the value: it refuses at once, before or after Start.
		w := &rigWorker{r: r, name: "x"}
		if err := s.Child("x").HealthCheckInterval(time.Second).Spawn(w); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("Spawn = %v", err)
		}
		if err := New("idle", OneForOne, Permanent).Child("x").HealthCheckInterval(time.Second).Spawn(w); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("Spawn before Start = %v", err)
		}
		// SpawnFunc and batches: at the start, as for a Spec.
		if err := s.Child("y").HealthCheckInterval(time.Second).SpawnFunc(func() Child { return w }); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("SpawnFunc = %v", err)
		}
		if err := s.Children("b", 2).HealthCheckInterval(time.Second).SpawnBatch(func() Child { return w }); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("SpawnBatch = %v", err)
		}
		// A timeout or threshold without an interval would never run either.
		for _, hp := range []HealthPolicy{{Timeout: time.Second}, {UnhealthyThreshold: 2}} {
			if err := s.StartChild(Spec{Name: "z", New: spec.New, Health: hp}); !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("%+v: StartChild = %v", hp, err)
			}
		}
		if n := s.CountChildren(); n.Specs != 0 {
			t.Fatalf("kept %+v", n)
		}
		// A checker is accepted.
		if err := s.Child("ok").HealthCheckInterval(time.Second).Spawn(&sick{hang: true}); err != nil {
			t.Fatal(err)
		}
		mustStop(t, s)
	})
}

// Issue 7, item 6: the restart caused by failed health checks could not be
// told apart with errors.Is.
func TestRegressionHealthRestartErrorIsMatchable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		var mu sync.Mutex
		script := []health.Status{health.Unhealthy("disk full")}
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler), WithIntensity(1, time.Hour))
		err := s.Child("w").HealthCheckInterval(time.Second).UnhealthyThreshold(1).
			SpawnFunc(func() Child { return &sick{mu: &mu, script: &script} })
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if e, ok := ev.find(EventHealthRestart); !ok || !errors.Is(e.Err, ErrUnhealthy) {
			t.Fatalf("health restart event: %+v", e)
		}
		// The second health restart is one too many: the final error says why.
		time.Sleep(time.Second)
		<-s.Done()
		if err := s.Err(); !errors.Is(err, ErrIntensityExceeded) || !errors.Is(err, ErrUnhealthy) ||
			!strings.Contains(err.Error(), "disk full") {
			t.Fatalf("final error %v", err)
		}
		_ = s.Stop()
	})
}

// Issue 7, item 7: a huge count panicked in make.
func TestRegressionBatchCountOutOfRange(t *testing.T) {
	ok := func() Child { return idleChild{} }
	s := New("root", OneForOne, Permanent, quiet)
	for _, n := range []int{math.MaxInt, math.MaxInt / 2, MaxBatch + 1, -1, math.MinInt} {
		var err error
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("Children(w, %d) panicked: %v", n, v)
				}
			}()
			err = s.Children("w", n).SpawnBatch(ok)
		}()
		if !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("Children(w, %d) = %v, want ErrInvalidSpec", n, err)
		}
	}
	if n := s.CountChildren(); n.Specs != 0 {
		t.Fatalf("kept %+v", n)
	}
}

// Issue 7, item 7: names are path elements ("root/web/db"), so a "/" in
// one made two places in a tree look alike; empty names too.
func TestRegressionNamesArePathElements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := func() Child { return idleChild{} }
		s := New("root", OneForOne, Permanent, quiet)
		for name, err := range map[string]error{
			"spec":          s.StartChild(Spec{Name: "a/b", New: ok}),
			"builder":       s.Child("a/b").SpawnFunc(ok),
			"spawn":         s.SpawnChild("/", idleChild{}),
			"batch prefix":  s.Children("a/b", 2).SpawnBatch(ok),
			"sub with /":    s.AddSupervisor(New("a/b", OneForOne, Permanent)),
			"sub empty":     s.AddSupervisor(New("", OneForOne, Permanent)),
			"top empty":     New("", OneForOne, Permanent, quiet).Start(context.Background()),
			"top with /":    New("x/y", OneForOne, Permanent, quiet).Start(context.Background()),
			"top serve":     New("", OneForOne, Permanent, quiet).Serve(context.Background()),
			"empty builder": s.Child("").SpawnFunc(ok),
		} {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("%s: %v, want ErrInvalidSpec", name, err)
			}
		}
		if n := s.CountChildren(); n.Specs != 0 {
			t.Fatalf("kept %+v", s.WhichChildren())
		}
	})
}

// Issue 7, item 7b: a typed nil (a nil *T in a Child) was accepted and
// crashed on first use, restart after restart.
func TestRegressionTypedNilChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Permanent, quiet)
		if err := s.SpawnChild("x", (*rigWorker)(nil)); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("SpawnChild typed nil = %v", err)
		}
		if err := s.SpawnChild("f", ChildFunc(nil)); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("SpawnChild nil ChildFunc = %v", err)
		}
		if err := s.SpawnChild("s", (*Supervisor)(nil)); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("SpawnChild nil *Supervisor = %v", err)
		}
		if err := s.Child("y").SpawnFunc(func() Child { return (*rigWorker)(nil) }); err != nil {
			t.Fatal(err) // New has not run yet
		}
		if err := s.Start(context.Background()); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), `"y"`) {
			t.Fatalf("Start with New returning a typed nil = %v", err)
		}
	})
}
