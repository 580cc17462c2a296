package supervisor

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
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

// Issue 7, item 5: Supervisor.Launch was exported; any caller could take
// the parent's exit report of a sub-supervisor.
func TestRegressionSupervisorIsNoLauncher(t *testing.T) {
	if _, ok := any(New("s", OneForOne, Permanent)).(Launcher); ok {
		t.Fatal("*Supervisor implements Launcher: its exit callback can be overwritten by anyone")
	}
	// Sub-supervisors are still launched and restarted by their parent.
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		root := New("root", OneForOne, Permanent, quiet)
		sub := New("sub", OneForOne, Permanent, WithIntensity(0, time.Second))
		r.add(t, sub, "w")
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		r.j.expect(t, "start w")
		r.crash("w", errBoom) // the sub gives up; root restarts it
		synctest.Wait()
		r.j.expect(t, "exit w", "start w")
		if ci := childInfo(t, root, "sub"); ci.Restarts != 1 || ci.State != ChildRunning {
			t.Fatalf("%+v", ci)
		}
		mustStop(t, root)
	})
}

// Issue 7, item 4: Serve on a supervisor its parent runs blocked (and its
// ctx would stop what the parent restarts) instead of saying so.
func TestRegressionServeOnSupervisorRunByParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := New("root", OneForOne, Permanent, quiet)
		sub := New("sub", OneForOne, Permanent)
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		got := make(chan error, 1)
		go func() { got <- sub.Serve(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-got:
			if !errors.Is(err, ErrAlreadyStarted) {
				t.Fatalf("Serve = %v, want ErrAlreadyStarted", err)
			}
		default:
			t.Fatal("Serve blocked on a supervisor its parent runs")
		}
		if err := sub.Start(context.Background()); !errors.Is(err, ErrAlreadyStarted) {
			t.Fatalf("Start = %v", err)
		}
		// Not running, but its running parent holds it: still the parent's.
		if err := root.TerminateChild("sub"); err != nil {
			t.Fatal(err)
		}
		if err := sub.Serve(context.Background()); !errors.Is(err, ErrAlreadyStarted) {
			t.Fatalf("Serve on a terminated child of a running parent = %v", err)
		}
		if err := root.RestartChild("sub"); err != nil {
			t.Fatal(err)
		}
		mustStop(t, root)
	})
}

// Issue 7, items 4 and 7b: concurrent Serve calls raced (check, then start
// without the lock: the losers returned ErrAlreadyStarted instead of
// serving), and nil contexts panicked.
func TestRegressionConcurrentServeAndStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		if err := s.SpawnChild("w", idleChild{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		const n = 16
		serveErrs := make(chan error, n)
		startErrs := make(chan error, n)
		for range n {
			go func() { serveErrs <- s.Serve(ctx) }()
			go func() { startErrs <- s.Start(ctx) }()
		}
		synctest.Wait()
		for range n {
			if err := <-startErrs; err != nil && !errors.Is(err, ErrAlreadyStarted) {
				t.Fatalf("Start = %v", err)
			}
		}
		if err := s.Serve(nil); !errors.Is(err, ErrInvalidOption) { //nolint:staticcheck // nil ctx on purpose
			t.Fatalf("Serve(nil) on a running supervisor = %v", err)
		}
		if err := s.Start(nil); !errors.Is(err, ErrInvalidOption) { //nolint:staticcheck // nil ctx on purpose
			t.Fatalf("Start(nil) = %v", err)
		}
		cancel()
		for range n {
			if err := <-serveErrs; err != nil {
				t.Fatalf("Serve = %v, want nil after an orderly end", err)
			}
		}
		var started int
		for _, k := range ev.kinds("") {
			if k == EventSupervisorStarted {
				started++
			}
		}
		if started != 1 {
			t.Fatalf("started %d times", started)
		}
		if err := New("idle", OneForOne, Permanent).Serve(nil); !errors.Is(err, ErrInvalidOption) { //nolint:staticcheck // nil ctx on purpose
			t.Fatalf("Serve(nil) = %v", err)
		}
	})
}

// slowStart is a child whose Start takes hold, on the starts listed in slow
// (1-based), and whose Serve waits for cancellation.
type slowStart struct {
	mu    *sync.Mutex
	n     *int
	slow  map[int]bool
	hold  time.Duration
	fails chan error
}

func (w *slowStart) Start(context.Context) error {
	w.mu.Lock()
	*w.n++
	slow := w.slow[*w.n]
	w.mu.Unlock()
	if slow {
		time.Sleep(w.hold)
	}
	return nil
}

func (w *slowStart) Serve(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-w.fails:
		return err
	}
}

// Issue 7, item 4: a sub-supervisor's start was cut at the 30 s worker
// default; OTP waits as long as a supervisor takes to start.
func TestRegressionSubSupervisorStartIsUnbounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var n int
		w := &slowStart{mu: &mu, n: &n, slow: map[int]bool{1: true}, hold: 40 * time.Second}
		root := New("root", OneForOne, Permanent, quiet)
		sub := New("sub", OneForOne, Permanent)
		if err := sub.Child("w").StartTimeout(time.Minute).Spawn(w); err != nil {
			t.Fatal(err)
		}
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := root.Start(context.Background()); err != nil {
			t.Fatalf("Start = %v, want the sub-supervisor's 40 s start awaited", err)
		}
		if d := time.Since(start); d != 40*time.Second {
			t.Fatalf("started after %v", d)
		}
		mustStop(t, root)
	})
}

// Issue 7, item 4: after a sub-supervisor's StartTimeout, its start went on
// in the background, so the parent's retry met ErrAlreadyStarted until the
// parent gave up.
func TestRegressionSubSupervisorStartTimeoutThenRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		var mu sync.Mutex
		var n int
		w := &slowStart{mu: &mu, n: &n, slow: map[int]bool{2: true}, hold: 20 * time.Second, fails: make(chan error)}
		root := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		sub := New("sub", OneForOne, Permanent, WithIntensity(0, time.Second))
		if err := sub.SpawnChild("w", w); err != nil {
			t.Fatal(err)
		}
		if err := root.Child("sub").StartTimeout(10 * time.Second).Spawn(sub); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		w.fails <- errBoom // sub gives up; root restarts it; w's second start is slow
		time.Sleep(time.Minute)
		synctest.Wait()
		if err := root.Err(); err != nil {
			t.Fatalf("root ended: %v", err)
		}
		if ci := childInfo(t, root, "sub"); ci.State != ChildRunning {
			t.Fatalf("sub %+v", ci)
		}
		var timeouts int
		ev.mu.Lock()
		for _, e := range ev.ev {
			if e.Kind == EventChildStartFailed {
				if errors.Is(e.Err, ErrAlreadyStarted) {
					t.Errorf("a retry met a start still going on: %v", e.Err)
				}
				if errors.Is(e.Err, ErrStartTimeout) {
					timeouts++
				}
			}
		}
		ev.mu.Unlock()
		if timeouts != 1 {
			t.Fatalf("%d start timeouts", timeouts)
		}
		mustStop(t, root)
	})
}

// Issue 7, item 7b: AddSupervisor of a supervisor that ran under another
// parent re-parented it (its path and events moved) and marked it for
// disposal, so its specs were disposed at its next restart.
func TestRegressionAddSupervisorOwnedElsewhereChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		root1 := New("root1", OneForOne, Permanent, quiet)
		root2 := New("root2", OneForOne, Permanent, quiet)
		sub := New("sub", OneForOne, Permanent, WithIntensity(0, time.Second))
		var disposed []string
		var mu sync.Mutex
		spec := r.spec("w", Permanent)
		spec.Dispose = func(error) { mu.Lock(); disposed = append(disposed, "w"); mu.Unlock() }
		if err := sub.StartChild(spec); err != nil {
			t.Fatal(err)
		}
		if err := root1.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		// Added but not running: it belongs to root1 already.
		if err := root2.AddSupervisor(sub); !errors.Is(err, ErrAlreadyPresent) {
			t.Fatalf("AddSupervisor of a supervisor added elsewhere = %v", err)
		}
		if err := root1.SpawnChild("again", sub); !errors.Is(err, ErrAlreadyPresent) {
			t.Fatalf("the same supervisor twice = %v", err)
		}
		mustStart(t, root1)
		mustStart(t, root2)
		r.j.expect(t, "start w")
		for _, add := range []func() error{
			func() error { return root2.AddSupervisor(sub) },
			func() error { return root2.SpawnChild("other", sub) },
			func() error { return root2.Child("x").SpawnFunc(func() Child { return sub }) },
		} {
			if err := add(); err == nil {
				t.Fatal("a supervisor running under root1 was added to root2")
			}
		}
		if n := root2.CountChildren(); n.Specs != 0 {
			t.Fatalf("root2 kept %+v", root2.WhichChildren())
		}
		if p := sub.Path(); p != "root1/sub" {
			t.Fatalf("re-parented: path %q", p)
		}
		r.crash("w", errBoom) // sub gives up, root1 restarts it
		synctest.Wait()
		r.j.expect(t, "exit w", "start w")
		mu.Lock()
		if len(disposed) != 0 {
			t.Fatalf("disposed %v: the failed add marked sub for disposal", disposed)
		}
		mu.Unlock()

		// A running top-level supervisor cannot be adopted either.
		top := New("top", OneForOne, Permanent, quiet)
		mustStart(t, top)
		if err := root2.AddSupervisor(top); !errors.Is(err, ErrAlreadyStarted) {
			t.Fatalf("AddSupervisor of a running top-level supervisor = %v", err)
		}
		mustStop(t, top)
		// Once removed from root1, sub may go elsewhere.
		if err := root1.TerminateChild("sub"); err != nil {
			t.Fatal(err)
		}
		if err := root1.DeleteChild("sub"); err != nil {
			t.Fatal(err)
		}
		if err := root2.AddSupervisor(sub); err != nil {
			t.Fatalf("AddSupervisor after DeleteChild = %v", err)
		}
		if p := sub.Path(); p != "root2/sub" {
			t.Fatalf("path %q", p)
		}
		mustStop(t, root1)
		mustStop(t, root2)
	})
}

// Issue 7, item 7b: a cycle of supervisors hung Start with two goroutines
// spinning. Not in a synctest bubble: a hang is what the test looks for.
func TestRegressionSupervisorCyclesAreInvalid(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a := New("a", OneForOne, Permanent, quiet)
		b := New("b", OneForOne, Permanent, quiet)
		c := New("c", OneForOne, Permanent, quiet)
		if err := a.AddSupervisor(a); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("self-add = %v", err)
		}
		if err := a.AddSupervisor(b); err != nil {
			t.Error(err)
		}
		if err := b.AddSupervisor(a); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("a <-> b = %v", err)
		}
		if err := b.AddSupervisor(c); err != nil {
			t.Error(err)
		}
		if err := c.AddSupervisor(a); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("a -> b -> c -> a = %v", err)
		}
		// A New that returns a supervisor is known only at the start.
		x := New("x", OneForOne, Permanent, quiet)
		y := New("y", OneForOne, Permanent, quiet)
		if err := x.Child("y").SpawnFunc(func() Child { return y }); err != nil {
			t.Error(err)
		}
		if err := y.Child("x").SpawnFunc(func() Child { return x }); err != nil {
			t.Error(err)
		}
		if err := x.Start(context.Background()); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("x -> y -> x started: %v", err)
			_ = x.Stop()
		}
		if err := a.Start(context.Background()); err != nil {
			t.Error(err)
		}
		if err := a.Stop(); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a cycle of supervisors hung")
	}
}

// Issue 7, item 4: a Dispose hook that called its own running supervisor
// deadlocked: hooks ran on the control goroutine, which alone answers.
func TestRegressionDisposeHookCallsItsRunningSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var s *Supervisor
		s = New("root", OneForAll, Permanent, quiet)
		var mu sync.Mutex
		var seen []string
		hook := func(name string, call func()) func(error) {
			return func(error) {
				call()
				mu.Lock()
				seen = append(seen, name)
				mu.Unlock()
			}
		}
		took := func() []string {
			mu.Lock()
			defer mu.Unlock()
			out := seen
			seen = nil
			return out
		}
		// A Temporary child exiting on its own: the hook reads the tree and
		// adds a child.
		temp := r.spec("temp", Temporary)
		temp.Dispose = hook("temp", func() {
			if n := len(s.WhichChildren()); n != 2 {
				t.Errorf("temp's hook saw %d children", n)
			}
			if err := s.StartChild(r.spec("late", Permanent)); err != nil {
				t.Errorf("StartChild from a hook: %v", err)
			}
		})
		// A temporary bystander of a group restart.
		by := r.spec("by", Temporary)
		by.Dispose = hook("by", func() { _ = s.CountChildren() })
		// DeleteChild: the hook has run when DeleteChild returns.
		del := r.spec("del", Permanent)
		del.Dispose = hook("del", func() { _ = s.WhichChildren() })
		if err := s.StartChildren(r.spec("p", Permanent), temp, by, del); err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		r.j.take()

		if err := s.TerminateChild("del"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChild("del"); err != nil {
			t.Fatal(err)
		}
		if got := took(); len(got) != 1 || got[0] != "del" {
			t.Fatalf("after DeleteChild: hooks run %v", got)
		}

		r.crash("temp", nil) // a normal exit: removed, nothing restarted
		synctest.Wait()
		if got := took(); len(got) != 1 || got[0] != "temp" {
			t.Fatalf("after temp's exit: hooks run %v", got)
		}
		r.j.take()
		if ci := childInfo(t, s, "late"); ci.State != ChildRunning {
			t.Fatalf("late: %+v", ci)
		}

		r.crash("p", errBoom) // OneForAll: by is a temporary bystander
		synctest.Wait()
		if got := took(); len(got) != 1 || got[0] != "by" {
			t.Fatalf("after the group restart: hooks run %v", got)
		}

		// A hook may even stop its supervisor.
		last := r.spec("last", Temporary)
		stopped := make(chan error, 1)
		last.Dispose = func(error) { stopped <- s.Stop() }
		if err := s.StartChild(last); err != nil {
			t.Fatal(err)
		}
		r.crash("last", nil)
		if err := <-stopped; err != nil {
			t.Fatalf("Stop from a hook: %v", err)
		}
		mustStop(t, s)
	})
}

// stuckCheck's CheckHealth ignores its ctx for an hour; it counts how many
// calls run at once.
type stuckCheck struct {
	mu       sync.Mutex
	now, max int
}

func (s *stuckCheck) Serve(ctx context.Context) error { <-ctx.Done(); return nil }
func (s *stuckCheck) CheckHealth(context.Context) health.Status {
	s.mu.Lock()
	s.now++
	s.max = max(s.max, s.now)
	s.mu.Unlock()
	time.Sleep(time.Hour)
	s.mu.Lock()
	s.now--
	s.mu.Unlock()
	return health.Healthy()
}

// Issue 7, item 7b: a health check that ignored its ctx leaked a goroutine
// per interval: the next check started while the previous one still ran.
func TestRegressionHungHealthCheckIsNotJoinedByAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		w := &stuckCheck{}
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		err := s.Child("w").HealthCheckInterval(time.Second).HealthCheckTimeout(100 * time.Millisecond).
			UnhealthyThreshold(100).Spawn(w)
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		w.mu.Lock()
		most := w.max
		w.mu.Unlock()
		if most != 1 {
			t.Fatalf("%d checks ran at once", most)
		}
		ci := childInfo(t, s, "w")
		if ci.Health.State != health.StateUnhealthy || !strings.Contains(ci.Health.Reason, "still running") {
			t.Fatalf("health %v", ci.Health)
		}
		if ci.Restarts != 0 {
			t.Fatalf("restarted below the threshold: %+v", ci)
		}
		mustStop(t, s)            // reports the hung check as abandoned
		time.Sleep(2 * time.Hour) // let it return before the bubble ends
		// Once it has returned, checks start again (a new run of the tree).
		mustStart(t, s)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		w.mu.Lock()
		now := w.now
		w.mu.Unlock()
		if now != 1 {
			t.Fatalf("%d checks running after the hung one returned", now)
		}
		mustStop(t, s)
		time.Sleep(2 * time.Hour)
	})
}

// Found while moving Dispose hooks off the control goroutine: Stop on a
// supervisor that had ended on its own returned while its last hooks (and
// events) were still running, so they outlived Stop.
func TestRegressionStopAfterOwnEndWaitsForHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Transient, quiet, WithAutoShutdown(AnySignificant))
		var hookDone atomic.Bool
		temp := r.spec("temp", Temporary)
		temp.Significant = true
		temp.Dispose = func(error) {
			time.Sleep(time.Second)
			hookDone.Store(true)
		}
		if err := s.StartChild(temp); err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		r.crash("temp", nil) // a significant exit: the supervisor ends on its own
		<-s.Done()
		mustStop(t, s)
		if !hookDone.Load() {
			t.Fatal("Stop returned while a Dispose hook of the ended supervisor still ran")
		}
	})
}
