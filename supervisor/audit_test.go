package supervisor

// Adversarial tests of the lane (lane.go): many goroutines using the whole
// dynamic API on a few names at once, checking what users rely on.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// eventGrammar checks, name by name, that events come in an order a
// subscriber can make sense of: a child is started before it ends, ends
// before it is removed, and a name is not started again while the child
// that had it runs.
type eventGrammar struct {
	mu    sync.Mutex
	state map[string]string // "" (absent), "up", "down"
	bad   []string
	hist  map[string][]EventKind
}

func newEventGrammar() *eventGrammar {
	return &eventGrammar{state: map[string]string{}, hist: map[string][]EventKind{}}
}

func (g *eventGrammar) handler(e Event) {
	if e.Child == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	h := append(g.hist[e.Child], e.Kind)
	if len(h) > 12 {
		h = h[len(h)-12:]
	}
	g.hist[e.Child] = h
	st := g.state[e.Child]
	next := st
	ok := true
	switch e.Kind {
	case EventChildStarted, EventChildRestarted:
		ok = st != "up"
		next = "up"
	case EventChildExited, EventChildFailed, EventChildStopped, EventChildAbandoned:
		ok = st == "up"
		next = "down"
	case EventChildStartFailed, EventChildRestartScheduled:
		ok = st != "up"
		next = "down"
	case EventChildRemoved:
		ok = st == "down"
		next = ""
	}
	if !ok && len(g.bad) < 5 {
		g.bad = append(g.bad, fmt.Sprintf("%s: %v while %q; last events %v", e.Child, e.Kind, st, h))
	}
	g.state[e.Child] = next
}

func (g *eventGrammar) check(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, b := range g.bad {
		t.Error("event order:", b)
	}
}

// TestRegressionLaneNameReusedEventOrder ends a Temporary lane child and
// at once starts another under its name, over and over: the new child's
// started event must not come before the old one's removed event, or a
// subscriber sees the running child removed.
func TestRegressionLaneNameReusedEventOrder(t *testing.T) {
	g := newEventGrammar()
	s := New("root", OneForOne, Temporary, quiet, WithEventHandler(g.handler))
	mustStart(t, s)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			name := fmt.Sprint("n", w)
			for i := 0; i < 300; {
				j := &oneJob{done: make(chan error, 1)}
				err := s.StartChild(Spec{Name: name, New: func() Child { return j }})
				if errors.Is(err, ErrAlreadyStarted) {
					runtime.Gosched() // the last one's removal is under way
					continue
				}
				i++
				if err != nil {
					t.Error(err)
					return
				}
				j.done <- nil
			}
		})
	}
	wg.Wait()
	mustStop(t, s)
	g.check(t)
}

// auditJob is a child that ends when told, with or without a Start step
// (a Starter goes through the loop, a Launcher onto the lane).
type auditJob struct {
	done chan error
}

func (j *auditJob) Serve(ctx context.Context) error {
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *auditJob) Launch(ctx context.Context, exit func(error)) {
	go func() { exit(j.Serve(ctx)) }()
}

type auditStarter struct{ auditJob }

func (*auditStarter) Start(context.Context) error { return nil }

// TestLaneChaos runs the whole dynamic API from several goroutines on a
// handful of names: starts on the lane and through the loop, ends, crashes,
// TerminateChild, RestartChild, DeleteChild, WhichChildren, CountChildren.
// It checks that names are never listed twice, counts agree with the list,
// events per name come in a valid order, every admitted spec is disposed
// exactly once (a refused one never), and Stop leaves nothing running.
func TestLaneChaos(t *testing.T) {
	for round := range 4 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { laneChaos(t, uint64(round)) })
		})
	}
}

func laneChaos(t *testing.T, seed uint64) {
	g := newEventGrammar()
	s := New("root", OneForOne, Temporary, quiet, WithIntensity(1<<30, time.Second), WithEventHandler(g.handler))
	mustStart(t, s)
	const workers, ops, nnames = 6, 400, 5
	type token struct {
		name     string
		disposed atomic.Int32
		admitted atomic.Int32 // 1: StartChild said yes or failed the start; -1: refused
	}
	var (
		mu     sync.Mutex
		tokens []*token
		jobs   = map[string]*auditJob{}
	)
	known := func(err error) bool {
		for _, e := range []error{ErrNotFound, ErrRunning, ErrAlreadyStarted, ErrAlreadyPresent, ErrRestarting} {
			if errors.Is(err, e) {
				return true
			}
		}
		return false
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for range ops {
				name := fmt.Sprint("c", rng.IntN(nnames))
				switch op := rng.IntN(10); op {
				case 0, 1, 2:
					tk := &token{name: name}
					j := &auditJob{done: make(chan error, 1)}
					var child Child = j
					if rng.IntN(4) == 0 {
						child = &auditStarter{auditJob{done: j.done}}
					}
					restart := []RestartPolicy{Temporary, Temporary, Transient, Permanent}[rng.IntN(4)]
					mu.Lock()
					tokens = append(tokens, tk)
					mu.Unlock()
					err := s.StartChild(Spec{Name: name, Restart: restart, New: func() Child { return child },
						Dispose: func(error) { tk.disposed.Add(1) }})
					switch {
					case err == nil:
						tk.admitted.Store(1)
						mu.Lock()
						jobs[name] = j
						mu.Unlock()
					case errors.Is(err, ErrAlreadyStarted) || errors.Is(err, ErrAlreadyPresent):
						tk.admitted.Store(-1)
					default:
						t.Errorf("StartChild(%s) = %v", name, err)
					}
				case 3, 4:
					mu.Lock()
					j := jobs[name]
					mu.Unlock()
					if j != nil {
						var err error
						if rng.IntN(2) == 0 {
							err = errBoom
						}
						select {
						case j.done <- err:
						default:
						}
					}
				case 5:
					if err := s.TerminateChild(name); err != nil && !known(err) {
						t.Errorf("TerminateChild(%s) = %v", name, err)
					}
				case 6:
					if err := s.RestartChild(name); err != nil && !known(err) {
						t.Errorf("RestartChild(%s) = %v", name, err)
					}
				case 7:
					if err := s.DeleteChild(name); err != nil && !known(err) {
						t.Errorf("DeleteChild(%s) = %v", name, err)
					}
				case 8:
					infos := s.WhichChildren()
					seen := map[string]bool{}
					for _, ci := range infos {
						if seen[ci.Name] {
							t.Errorf("WhichChildren lists %s twice: %v", ci.Name, infos)
						}
						seen[ci.Name] = true
					}
					if len(infos) > nnames {
						t.Errorf("WhichChildren lists %d children of %d names", len(infos), nnames)
					}
				case 9:
					n := s.CountChildren()
					if n.Specs > nnames || n.Active > n.Specs || n.Workers != n.Specs {
						t.Errorf("CountChildren = %+v", n)
					}
				}
			}
		})
	}
	wg.Wait()
	synctest.Wait()
	// Quiescent: the list and the counts agree.
	infos := s.WhichChildren()
	n := s.CountChildren()
	active := 0
	for _, ci := range infos {
		if ci.State == ChildRunning {
			active++
		}
	}
	if n.Specs != len(infos) || n.Active != active {
		t.Errorf("CountChildren %+v, WhichChildren %d children", n, len(infos))
	}
	mustStop(t, s)
	if n := s.CountChildren(); n.Specs != 0 && n.Active != 0 {
		t.Errorf("after Stop: %+v", n)
	}
	g.check(t)
	for _, tk := range tokens {
		want := int32(1)
		if tk.admitted.Load() < 0 {
			want = 0
		}
		if got := tk.disposed.Load(); got != want {
			t.Errorf("a spec of %s (admitted %d) disposed %d times, want %d", tk.name, tk.admitted.Load(), got, want)
		}
	}
}

// TestRegressionLaneStartRacesTheLoop starts a name on the lane while the
// loop starts, takes over and removes a child of the same name: the lane
// start read whether the holder of the name was on the lane after letting
// go of the family's mutex, a data race with the loop (caught by -race).
func TestRegressionLaneStartRacesTheLoop(t *testing.T) {
	s := New("root", OneForOne, Temporary, quiet)
	mustStart(t, s)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 300 {
			j := &auditStarter{auditJob{done: make(chan error, 1)}}
			if err := s.StartChild(Spec{Name: "x", Restart: Permanent, New: func() Child { return j }}); err == nil {
				_ = s.TerminateChild("x")
				_ = s.DeleteChild("x")
			}
		}
	})
	wg.Go(func() {
		for range 300 {
			j := &auditJob{done: make(chan error, 1)}
			if err := s.StartChild(Spec{Name: "x", New: func() Child { return j }}); err == nil {
				_ = s.TerminateChild("x")
			}
		}
	})
	wg.Wait()
	mustStop(t, s)
}

// TestLaneStopWhileNewRuns stops a supervisor while a lane start is in
// its child's New: the start fails with ErrStopped, Stop does not wait for
// New, the child made is never run, nothing is left running, and the spec
// is disposed once, with the ErrStopped, since New got to make something
// (see TestRegressionLaneStopWhileNewRunsDisposes).
func TestLaneStopWhileNewRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Temporary, quiet)
		mustStart(t, s)
		inNew, release := make(chan struct{}), make(chan struct{})
		j := &auditJob{done: make(chan error, 1)}
		var disposed atomic.Int32
		var reason error
		started := make(chan error, 1)
		go func() {
			started <- s.StartChild(Spec{Name: "x", New: func() Child {
				close(inNew)
				<-release
				return j
			}, Dispose: func(err error) { reason = err; disposed.Add(1) }})
		}()
		<-inNew
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-started; !errors.Is(err, ErrStopped) {
			t.Fatalf("StartChild = %v, want ErrStopped", err)
		}
		synctest.Wait()
		if n := s.CountChildren(); n.Specs != 0 {
			t.Fatalf("after Stop: %+v", n)
		}
		if d := disposed.Load(); d != 1 {
			t.Fatalf("disposed %d times, want once", d)
		}
		if !errors.Is(reason, ErrStopped) {
			t.Fatalf("Dispose(%v), want ErrStopped", reason)
		}
	})
}

// stopSource is a Source whose New opens a resource and whose Dispose
// closes it; New waits in between for the test to stop the supervisor.
type stopSource struct {
	inNew, release chan struct{}
	open           atomic.Int32
	newChild       func() Child
}

func (s *stopSource) New() Child {
	s.open.Add(1)
	close(s.inNew)
	<-s.release
	return s.newChild()
}

func (s *stopSource) Dispose(error) { s.open.Add(-1) }

// TestRegressionLaneStopWhileNewRunsDisposes: a supervisor that stopped
// while a lane start was in its child's New failed the start with
// ErrStopped and never called Dispose, so a Source's resource made by New
// leaked. Both ways out of New are checked: a Launcher (the lane would
// launch it) and a Starter (which New hands to the control goroutine,
// gone by then).
func TestRegressionLaneStopWhileNewRunsDisposes(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func() Child
	}{
		{"launcher", func() Child { return &auditJob{done: make(chan error, 1)} }},
		{"starter", func() Child { return &auditStarter{auditJob{done: make(chan error, 1)}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := New("root", OneForOne, Temporary, quiet)
				mustStart(t, s)
				src := &stopSource{inNew: make(chan struct{}), release: make(chan struct{}), newChild: tc.make}
				started := make(chan error, 1)
				go func() { started <- s.StartChild(Spec{Name: "x", Source: src}) }()
				<-src.inNew
				if err := s.Stop(); err != nil {
					t.Fatal(err)
				}
				close(src.release)
				if err := <-started; !errors.Is(err, ErrStopped) {
					t.Fatalf("StartChild = %v, want ErrStopped", err)
				}
				synctest.Wait()
				if n := src.open.Load(); n != 0 {
					t.Fatalf("%d resources made by New left open", n)
				}
			})
		})
	}
}

// TestLaneEscalationWhileStarting crashes many Permanent lane children at
// once, past the restart intensity, while other goroutines keep starting
// Temporary children on the lane: the supervisor ends with
// ErrIntensityExceeded, starts after that fail with ErrStopped, every
// spec admitted is disposed exactly once, a refused one once if its New
// ran (the stop came during the start) and never otherwise, and no
// goroutine is left (goleak, in TestMain).
func TestLaneEscalationWhileStarting(t *testing.T) {
	for round := range 10 {
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(3, time.Hour))
		mustStart(t, s)
		const crashers = 12
		type spec struct {
			disposed atomic.Int32
			newRan   atomic.Bool
			admitted bool
		}
		var mu sync.Mutex
		var specs []*spec
		startOne := func(name string, restart RestartPolicy, j *auditJob) error {
			sp := &spec{}
			err := s.StartChild(Spec{Name: name, Restart: restart, New: func() Child { sp.newRan.Store(true); return j },
				Dispose: func(error) { sp.disposed.Add(1) }})
			sp.admitted = err == nil
			mu.Lock()
			specs = append(specs, sp)
			mu.Unlock()
			return err
		}
		jobs := make([]*auditJob, crashers)
		for i := range jobs {
			jobs[i] = &auditJob{done: make(chan error, 1)}
			if err := startOne(fmt.Sprint("p", i), Permanent, jobs[i]); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				for i := range 200 {
					err := startOne(fmt.Sprintf("t%d-%d", w, i), Temporary, &auditJob{done: make(chan error, 1)})
					if err != nil {
						if !errors.Is(err, ErrStopped) {
							t.Errorf("StartChild = %v", err)
						}
						return
					}
				}
			})
		}
		for i, j := range jobs {
			if (i+round)%2 == 0 {
				runtime.Gosched()
			}
			j.done <- errBoom
		}
		<-s.Done()
		wg.Wait()
		if err := s.Stop(); !errors.Is(err, ErrIntensityExceeded) {
			t.Fatalf("round %d: Stop = %v", round, err)
		}
		for i, sp := range specs {
			want := int32(0)
			if sp.admitted || sp.newRan.Load() {
				want = 1
			}
			if got := sp.disposed.Load(); got != want {
				t.Fatalf("round %d: spec %d (admitted %v, New ran %v) disposed %d times",
					round, i, sp.admitted, sp.newRan.Load(), got)
			}
		}
	}
}

// TestStopOrderAcrossLaneAndLoop starts children alternately through the
// loop (a Start step) and on the lane, moves some lane children to the
// loop (TerminateChild and RestartChild, a crash and its restart), and
// checks that WhichChildren keeps start order and Stop stops them newest
// first, each exactly once, as if there were no lane.
func TestStopOrderAcrossLaneAndLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(100, time.Hour))
		mustStart(t, s)
		const n = 24
		var want []string
		for i := range n {
			name := fmt.Sprintf("c%02d", i)
			spec := r.spec(name, Permanent)
			if i%3 != 0 {
				spec = r.launcherSpec(name, Permanent)
			}
			if err := s.StartChild(spec); err != nil {
				t.Fatal(err)
			}
			want = append(want, name)
		}
		for i := 1; i < n; i += 4 { // lane children, taken by the loop
			name := fmt.Sprintf("c%02d", i)
			if err := s.TerminateChild(name); err != nil {
				t.Fatal(err)
			}
			if err := s.RestartChild(name); err != nil {
				t.Fatal(err)
			}
		}
		r.crash("c02", errBoom) // restarted by the loop
		r.crash("c22", errBoom)
		synctest.Wait()
		if got := fmt.Sprint(names(s)); got != fmt.Sprint(want) {
			t.Fatalf("WhichChildren = %v, want %v", got, want)
		}
		r.j.take()
		mustStop(t, s)
		var stops []string
		for i := n - 1; i >= 0; i-- {
			stops = append(stops, fmt.Sprintf("stop c%02d", i))
		}
		r.j.expect(t, stops...)
	})
}

// exitThenPanic is a Launcher whose Launch reports the child's end and then
// panics: a broken Launcher, which must cost only its own start.
type exitThenPanic struct {
	auditJob
	wait chan struct{} // if set, Launch waits for it between exit and panic
}

func (l *exitThenPanic) Launch(_ context.Context, exit func(error)) {
	exit(nil)
	if l.wait != nil {
		<-l.wait
	}
	panic("launch after exit")
}

// TestRegressionLaunchPanicsAfterExit starts, on the lane, a Temporary child
// whose Launch calls exit and then panics, beside children that keep
// running. The reaper could remove the child for its exit and the
// launch failure remove it again: the lane's list, unlinked twice, lost
// the other children (WhichChildren no longer listed them, Stop did not
// stop them) and the Dispose hook ran twice.
func TestRegressionLaunchPanicsAfterExit(t *testing.T) {
	for _, wait := range []bool{false, true} {
		t.Run(map[bool]string{false: "exit reaped after the panic", true: "exit reaped before the panic"}[wait], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := New("root", OneForOne, Temporary, quiet)
				mustStart(t, s)
				for i := range 3 {
					j := &auditJob{done: make(chan error, 1)}
					if err := s.StartChild(Spec{Name: fmt.Sprint("keep", i), New: func() Child { return j }}); err != nil {
						t.Fatal(err)
					}
				}
				l := &exitThenPanic{auditJob: auditJob{done: make(chan error)}}
				if wait {
					l.wait = make(chan struct{})
					go func() { synctest.Wait(); close(l.wait) }() // the reaper has run
				}
				var disposed atomic.Int32
				err := s.StartChild(Spec{Name: "broken", New: func() Child { return l },
					Dispose: func(error) { disposed.Add(1) }})
				var pe *PanicError
				if !errors.As(err, &pe) {
					t.Fatalf("StartChild = %v, want a *PanicError", err)
				}
				synctest.Wait()
				if got := fmt.Sprint(names(s)); got != "[keep0 keep1 keep2]" {
					t.Fatalf("WhichChildren = %v", got)
				}
				if n := s.CountChildren(); n.Specs != 3 || n.Active != 3 {
					t.Fatalf("CountChildren = %+v", n)
				}
				mustStop(t, s)
				if d := disposed.Load(); d != 1 {
					t.Fatalf("disposed %d times", d)
				}
			})
		})
	}
}

// TestLaneStartsRacingStop calls Stop while several goroutines start
// children on the lane, some ending at once: a start either succeeds
// (and its child is stopped or ended, and disposed once) or fails with
// ErrStopped (and is disposed once if its New ran, the stop coming during
// the start, never otherwise); Stop returns nil, and no goroutine is left
// (goleak, in TestMain).
func TestLaneStartsRacingStop(t *testing.T) {
	for round := range 20 {
		s := New("root", OneForOne, Temporary, quiet)
		mustStart(t, s)
		type spec struct {
			disposed atomic.Int32
			newRan   atomic.Bool
			err      error
		}
		var mu sync.Mutex
		var specs []*spec
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				for i := range 300 {
					sp := &spec{}
					j := &auditJob{done: make(chan error, 1)}
					if i%2 == 0 {
						j.done <- nil // ends as soon as it runs
					}
					sp.err = s.StartChild(Spec{Name: fmt.Sprintf("w%d-%d", w, i), New: func() Child { sp.newRan.Store(true); return j },
						Dispose: func(error) { sp.disposed.Add(1) }})
					mu.Lock()
					specs = append(specs, sp)
					mu.Unlock()
					if sp.err != nil {
						return
					}
				}
			})
		}
		for range round * 20 {
			runtime.Gosched()
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		started := 0
		for _, sp := range specs {
			if sp.err == nil {
				started++
			}
		}
		if testing.Verbose() {
			t.Logf("round %d: %d started, %d refused", round, started, len(specs)-started)
		}
		for i, sp := range specs {
			want := int32(1)
			if sp.err != nil {
				if !errors.Is(sp.err, ErrStopped) {
					t.Fatalf("round %d: StartChild = %v", round, sp.err)
				}
				if !sp.newRan.Load() {
					want = 0
				}
			}
			if got := sp.disposed.Load(); got != want {
				t.Fatalf("round %d: spec %d (err %v) disposed %d times", round, i, sp.err, got)
			}
		}
	}
}
