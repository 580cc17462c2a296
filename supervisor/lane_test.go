package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// oneJob is a Launcher that ends by itself when told to (done), or when
// its ctx is cancelled: a short-lived dynamic child.
type oneJob struct {
	done chan error
}

func (j *oneJob) Serve(ctx context.Context) error {
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *oneJob) Launch(ctx context.Context, exit func(error)) {
	go func() { exit(j.Serve(ctx)) }()
}

// TestLaneManyConcurrentStartsAndExits starts temporary children from
// several goroutines at once while they end and while others ask for
// WhichChildren: every child's Dispose runs exactly once, names stay
// unique, and the ones left running are stopped by Stop.
func TestLaneManyConcurrentStartsAndExits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Temporary, quiet)
		mustStart(t, s)
		const workers, each = 4, 200
		var disposed sync.Map
		var twice atomic.Int32
		jobs := make([][]*oneJob, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					name := fmt.Sprintf("w%d-%d", w, i)
					j := &oneJob{done: make(chan error, 1)}
					jobs[w] = append(jobs[w], j)
					err := s.StartChild(Spec{Name: name, New: func() Child { return j }, Dispose: func(error) {
						if _, dup := disposed.LoadOrStore(name, true); dup {
							twice.Add(1)
						}
					}})
					if err != nil {
						t.Error(err)
						return
					}
					if err := s.StartChild(Spec{Name: name, New: func() Child { return j }}); !errors.Is(err, ErrAlreadyStarted) {
						t.Errorf("second start of %s = %v, want ErrAlreadyStarted", name, err)
					}
					if i%2 == 0 {
						j.done <- nil // ends at once, on its own goroutine
					}
					if i%50 == 0 {
						_ = s.WhichChildren()
					}
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		if n := s.CountChildren(); n.Specs != workers*each/2 || n.Active != n.Specs {
			t.Fatalf("CountChildren = %+v, want %d running", n, workers*each/2)
		}
		infos := s.WhichChildren()
		for i := 1; i < len(infos); i++ {
			// Start order: within a worker's goroutine, i grows.
			var wa, ia, wb, ib int
			fmt.Sscanf(infos[i-1].Name, "w%d-%d", &wa, &ia)
			fmt.Sscanf(infos[i].Name, "w%d-%d", &wb, &ib)
			if wa == wb && ia >= ib {
				t.Fatalf("WhichChildren out of start order: %s before %s", infos[i-1].Name, infos[i].Name)
			}
		}
		mustStop(t, s)
		if n := twice.Load(); n != 0 {
			t.Fatalf("%d Dispose hooks ran twice", n)
		}
		count := 0
		disposed.Range(func(any, any) bool { count++; return true })
		if count != workers*each {
			t.Fatalf("%d specs disposed, want %d", count, workers*each)
		}
	})
}

// TestLaneNamesUniqueAcrossLaneAndLoop checks that a name taken by a child
// the loop started (one with a Start step) is refused to a lane start, and
// the other way round, with the documented sentinels.
func TestLaneNamesUniqueAcrossLaneAndLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		mustStart(t, s)
		if err := s.StartChild(r.spec("loop", Permanent)); err != nil { // a Starter: the loop's path
			t.Fatal(err)
		}
		if err := s.StartChild(r.launcherSpec("loop", Permanent)); !errors.Is(err, ErrAlreadyStarted) {
			t.Fatalf("lane start over a loop child = %v", err)
		}
		if err := s.StartChild(r.launcherSpec("lane", Permanent)); err != nil {
			t.Fatal(err)
		}
		if err := s.StartChild(r.spec("lane", Permanent)); !errors.Is(err, ErrAlreadyStarted) {
			t.Fatalf("loop start over a lane child = %v", err)
		}
		if err := s.StartChild(r.launcherSpec("tr", Transient)); err != nil {
			t.Fatal(err)
		}
		r.crash("tr", nil) // a normal exit: kept as a stopped spec, by the loop
		synctest.Wait()
		if err := s.StartChild(r.launcherSpec("tr", Transient)); !errors.Is(err, ErrAlreadyPresent) {
			t.Fatalf("lane start over a stopped spec = %v", err)
		}
		if err := s.RestartChild("tr"); err != nil {
			t.Fatal(err)
		}
		if got := names(s); fmt.Sprint(got) != "[loop lane tr]" {
			t.Fatalf("WhichChildren = %v", got)
		}
		mustStop(t, s)
		r.j.expect(t, "start loop", "start lane", "start tr", "exit tr", "start tr",
			"stop tr", "stop lane", "stop loop")
	})
}

// explodingLauncher panics in Launch.
type explodingLauncher struct{ oneJob }

func (explodingLauncher) Launch(context.Context, func(error)) { panic("no launch") }

// TestLaneStartFailures checks that a New or a Launch that fails on the
// lane is a start failure: the error (a *PanicError for a panic), the
// events, the Dispose hook before StartChild returns, and the name free.
func TestLaneStartFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		s := New("root", OneForOne, Temporary, quiet, WithEventHandler(log.handler))
		mustStart(t, s)
		for i, c := range []struct {
			name string
			new  func() Child
		}{
			{"new", func() Child { panic("no new") }},
			{"launch", func() Child { return &explodingLauncher{} }},
		} {
			var disposed bool
			err := s.StartChild(Spec{Name: c.name, New: c.new, Dispose: func(error) { disposed = true }})
			var pe *PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: StartChild = %v, want a *PanicError", c.name, err)
			}
			if !disposed {
				t.Fatalf("%s: not disposed when StartChild returned", c.name)
			}
			if n := s.CountChildren(); n.Specs != i { // the earlier cases' second starts

				t.Fatalf("%s: %+v", c.name, n)
			}
			if err := s.StartChild(Spec{Name: c.name, New: func() Child { return &oneJob{done: make(chan error)} }}); err != nil {
				t.Fatalf("%s: name not free after the failure: %v", c.name, err)
			}
		}
		mustStop(t, s)
		synctest.Wait()
		for name, want := range map[string][]EventKind{
			// Stop removes the Temporary second starts: a stop is an exit.
			"new": {EventChildStartFailed, EventChildRemoved, EventChildStarted, EventChildStopped, EventChildRemoved},
			// Started is emitted before Launch: a child may end during it.
			"launch": {EventChildStarted, EventChildStartFailed, EventChildRemoved, EventChildStarted, EventChildStopped, EventChildRemoved},
		} {
			if got := fmt.Sprint(log.kinds(name)); got != fmt.Sprint(want) {
				t.Fatalf("%s: events %s, want %v", name, got, want)
			}
		}
	})
}

// TestLaneStopWaitsForDisposeHooks checks that Stop waits for the Dispose
// hook of a lane child that ended on its own, and that a hook that stops
// its own supervisor does not wait for itself.
func TestLaneStopWaitsForDisposeHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Temporary, quiet)
		mustStart(t, s)
		release := make(chan struct{})
		j := &oneJob{done: make(chan error, 1)}
		if err := s.StartChild(Spec{Name: "slow", New: func() Child { return j }, Dispose: func(error) { <-release }}); err != nil {
			t.Fatal(err)
		}
		j.done <- nil
		synctest.Wait() // the hook runs and blocks
		stopped := make(chan error)
		go func() { stopped <- s.Stop() }()
		synctest.Wait()
		select {
		case <-stopped:
			t.Fatal("Stop returned while a Dispose hook ran")
		default:
		}
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}

		s2 := New("root2", OneForOne, Temporary, quiet)
		mustStart(t, s2)
		j2 := &oneJob{done: make(chan error, 1)}
		hookDone := make(chan error, 1)
		if err := s2.StartChild(Spec{Name: "stopper", New: func() Child { return j2 },
			Dispose: func(error) { hookDone <- s2.Stop() }}); err != nil {
			t.Fatal(err)
		}
		j2.done <- nil
		if err := <-hookDone; err != nil {
			t.Fatal(err)
		}
		<-s2.Done()
	})
}

// TestLanePermanentChildRestartsThroughTheLoop checks that a lane child
// whose exit calls for a restart is restarted (and counted toward the
// intensity) like any other, and that too many restarts escalate.
func TestLanePermanentChildRestartsThroughTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(2, 1e9))
		mustStart(t, s)
		if err := s.StartChild(r.launcherSpec("p", Permanent)); err != nil {
			t.Fatal(err)
		}
		r.crash("p", errBoom)
		synctest.Wait()
		if ci := childInfo(t, s, "p"); ci.State != ChildRunning || ci.Restarts != 1 || !errors.Is(ci.LastErr, errBoom) {
			t.Fatalf("%+v", ci)
		}
		r.crash("p", errBoom)
		r.crash("p", errBoom)
		<-s.Done()
		if err := s.Stop(); !errors.Is(err, ErrIntensityExceeded) {
			t.Fatalf("Stop = %v", err)
		}
	})
}

// gatedStarter is a child whose Start waits for its gate: while it does,
// the supervisor's control goroutine waits with it.
type gatedStarter struct {
	oneJob
	gate chan struct{}
}

func (g *gatedStarter) Start(ctx context.Context) error {
	<-g.gate
	return nil
}

// TestLaneNeedsNoTripThroughTheLoop checks what the lane is for: while the
// control goroutine is busy (waiting for another child's Start), a child
// without a Start step is still started, and a Temporary one that ends is
// still removed and disposed.
func TestLaneNeedsNoTripThroughTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Temporary, quiet)
		mustStart(t, s)
		g := &gatedStarter{oneJob: oneJob{done: make(chan error)}, gate: make(chan struct{})}
		slow := make(chan error)
		go func() { slow <- s.StartChild(Spec{Name: "slow", New: func() Child { return g }}) }()
		synctest.Wait() // the loop waits for slow's Start

		j := &oneJob{done: make(chan error, 1)}
		disposed := make(chan error, 1)
		if err := s.StartChild(Spec{Name: "quick", New: func() Child { return j },
			Dispose: func(reason error) { disposed <- reason }}); err != nil {
			t.Fatal(err)
		}
		j.done <- errBoom
		synctest.Wait()
		select {
		case reason := <-disposed:
			if !errors.Is(reason, errBoom) {
				t.Fatalf("Dispose(%v), want the exit's error", reason)
			}
		default:
			t.Fatal("a lane child's exit waited for the busy control goroutine")
		}
		close(g.gate)
		if err := <-slow; err != nil {
			t.Fatal(err)
		}
		mustStop(t, s)
	})
}

// TestLaneChildUnderTheDynamicAPI checks TerminateChild, RestartChild and
// DeleteChild on children started on the lane: the loop takes them over,
// with the documented answers, and each spec is disposed exactly once.
func TestLaneChildUnderTheDynamicAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Temporary, quiet)
		mustStart(t, s)
		disposed := map[string]int{}
		var mu sync.Mutex
		start := func(name string, restart RestartPolicy) *oneJob {
			t.Helper()
			j := &oneJob{done: make(chan error, 1)}
			err := s.StartChild(Spec{Name: name, Restart: restart, New: func() Child { return j },
				Dispose: func(error) { mu.Lock(); disposed[name]++; mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}
		start("a", Temporary)
		start("b", Temporary)
		jc := start("c", Temporary)
		start("d", Permanent)

		// TerminateChild of a Temporary lane child removes it, disposed
		// before the call returns.
		if err := s.TerminateChild("a"); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if disposed["a"] != 1 {
			t.Fatalf("a disposed %d times when TerminateChild returned", disposed["a"])
		}
		mu.Unlock()
		// RestartChild and DeleteChild of a running one: ErrRunning; the
		// loop has it now, and its own end still removes it.
		if err := s.RestartChild("c"); !errors.Is(err, ErrRunning) {
			t.Fatalf("RestartChild = %v", err)
		}
		if err := s.DeleteChild("c"); !errors.Is(err, ErrRunning) {
			t.Fatalf("DeleteChild = %v", err)
		}
		jc.done <- nil
		synctest.Wait()
		if got := fmt.Sprint(names(s)); got != "[b d]" {
			t.Fatalf("WhichChildren = %v", got)
		}
		// A Permanent lane child terminated by API stays as a stopped
		// spec, which RestartChild brings back and DeleteChild removes.
		if err := s.TerminateChild("d"); err != nil {
			t.Fatal(err)
		}
		if ci := childInfo(t, s, "d"); ci.State != ChildStopped {
			t.Fatalf("%+v", ci)
		}
		if err := s.RestartChild("d"); err != nil {
			t.Fatal(err)
		}
		if err := s.TerminateChild("d"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChild("d"); err != nil {
			t.Fatal(err)
		}
		mustStop(t, s)
		for _, name := range []string{"a", "b", "c", "d"} {
			if disposed[name] != 1 {
				t.Fatalf("%s disposed %d times, want once: %v", name, disposed[name], disposed)
			}
		}
	})
}

// TestLaneExitsRacingStop ends lane children while their supervisor stops:
// whichever comes first, every spec is disposed exactly once, and nothing
// is left running.
func TestLaneExitsRacingStop(t *testing.T) {
	for round := range 20 {
		synctest.Test(t, func(t *testing.T) {
			s := New("root", OneForOne, Temporary, quiet)
			mustStart(t, s)
			var disposed [50]atomic.Int32
			jobs := make([]*oneJob, len(disposed))
			for i := range jobs {
				jobs[i] = &oneJob{done: make(chan error, 1)}
				err := s.StartChild(Spec{Name: fmt.Sprint("j", i), New: func() Child { return jobs[i] },
					Dispose: func(error) { disposed[i].Add(1) }})
				if err != nil {
					t.Fatal(err)
				}
			}
			go func() {
				for i, j := range jobs {
					if (i+round)%3 != 0 {
						j.done <- nil
					}
				}
			}()
			if round%2 == 0 {
				synctest.Wait()
			}
			mustStop(t, s)
			for i := range disposed {
				if n := disposed[i].Load(); n != 1 {
					t.Fatalf("round %d: j%d disposed %d times", round, i, n)
				}
			}
		})
	}
}
