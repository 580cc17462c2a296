package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestDynamicAPIErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "run")
		if err := s.StartChild(r.spec("tr", Transient)); err != nil {
			t.Fatal(err)
		}
		// Before Start: duplicates are present, not started.
		if err := s.StartChild(r.spec("run", Permanent)); !errors.Is(err, ErrAlreadyPresent) {
			t.Fatalf("dup before start = %v", err)
		}
		mustStart(t, s)
		r.crash("tr", nil) // transient: stays stopped
		synctest.Wait()
		check := func(what string, err, want error) {
			t.Helper()
			if !errors.Is(err, want) {
				t.Fatalf("%s = %v, want %v", what, err, want)
			}
		}
		check("StartChild running name", s.StartChild(r.spec("run", Permanent)), ErrAlreadyStarted)
		check("StartChild stopped name", s.StartChild(r.spec("tr", Permanent)), ErrAlreadyPresent)
		check("StartChild invalid", s.StartChild(Spec{Name: "x"}), ErrInvalidSpec)
		check("TerminateChild unknown", s.TerminateChild("nope"), ErrNotFound)
		check("RestartChild unknown", s.RestartChild("nope"), ErrNotFound)
		check("RestartChild running", s.RestartChild("run"), ErrRunning)
		check("DeleteChild unknown", s.DeleteChild("nope"), ErrNotFound)
		check("DeleteChild running", s.DeleteChild("run"), ErrRunning)
		// TerminateChild is idempotent and never restarts.
		for range 3 {
			if err := s.TerminateChild("run"); err != nil {
				t.Fatal(err)
			}
		}
		if ci := childInfo(t, s, "run"); ci.State != ChildStopped || ci.Restarts != 0 {
			t.Fatalf("%+v", ci)
		}
		if err := s.DeleteChild("run"); err != nil {
			t.Fatal(err)
		}
		if err := s.StartChild(r.spec("run", Permanent)); err != nil {
			t.Fatalf("StartChild after delete = %v", err)
		}
		mustStop(t, s)
	})
}

func TestRestartChildReturnsStartErrorAndStaysStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "w")
		mustStart(t, s)
		if err := s.TerminateChild("w"); err != nil {
			t.Fatal(err)
		}
		r.failStarts("w", errBoom)
		if err := s.RestartChild("w"); !errors.Is(err, errBoom) {
			t.Fatalf("RestartChild = %v", err)
		}
		ci := childInfo(t, s, "w")
		if ci.State != ChildStopped || !errors.Is(ci.LastErr, errBoom) || ci.Restarts != 0 {
			t.Fatalf("%+v", ci)
		}
		mustStop(t, s)
	})
}

func TestStartChildWhileRunningReturnsAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var disposed error
		s := New("root", OneForOne, Permanent, quiet)
		mustStart(t, s)
		r.add(t, s, "a")
		r.j.expect(t, "start a") // Start completed before StartChild returned
		r.failStarts("b", errBoom)
		spec := r.spec("b", Permanent)
		spec.Dispose = func(err error) { disposed = err }
		if err := s.StartChild(spec); !errors.Is(err, errBoom) {
			t.Fatalf("StartChild = %v", err)
		}
		if got := names(s); len(got) != 1 {
			t.Fatalf("a child that failed to start was kept: %v", got)
		}
		if !errors.Is(disposed, errBoom) {
			t.Fatalf("Dispose(%v)", disposed)
		}
		mustStop(t, s)
	})
}

func TestBatchIsAllOrNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		mustStart(t, s)
		r.failStarts("w-2", errBoom)
		err := s.Children("w", 4).SpawnBatchWith(func(i int) Child { return &rigWorker{r: r, name: "w-" + string(rune('0'+i))} })
		if !errors.Is(err, errBoom) {
			t.Fatalf("SpawnBatch = %v", err)
		}
		r.j.expect(t, "start w-0", "start w-1", "startfail w-2", "stop w-1", "stop w-0")
		if n := s.CountChildren(); n.Specs != 0 {
			t.Fatalf("%+v", n)
		}
		if err := s.Children("w", 3).SpawnBatchWith(func(i int) Child { return &rigWorker{r: r, name: "w-" + string(rune('0'+i))} }); err != nil {
			t.Fatal(err)
		}
		if got := names(s); len(got) != 3 || got[2] != "w-2" {
			t.Fatalf("%v", got)
		}
		mustStop(t, s)
	})
}

func TestCountChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "a", "b")
		if err := s.AddSupervisor(New("sub", OneForOne, Permanent)); err != nil {
			t.Fatal(err)
		}
		if n := s.CountChildren(); n != (ChildCounts{Specs: 3, Supervisors: 1, Workers: 2}) {
			t.Fatalf("before start %+v", n)
		}
		mustStart(t, s)
		if err := s.TerminateChild("b"); err != nil {
			t.Fatal(err)
		}
		if n := s.CountChildren(); n != (ChildCounts{Specs: 3, Active: 2, Supervisors: 1, Workers: 2}) {
			t.Fatalf("running %+v", n)
		}
		infos := s.WhichChildren()
		if !infos[2].IsSupervisor || infos[2].Supervisor == nil || infos[2].Shutdown != Infinity || infos[0].Shutdown != DefaultWorkerShutdown {
			t.Fatalf("%+v", infos[2])
		}
		mustStop(t, s)
	})
}

func TestShutdownPolicies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		release := make(chan struct{})
		var j journal
		stubborn := func(name string) func() Child {
			return func() Child {
				return ChildFunc(func(ctx context.Context) error {
					<-ctx.Done()
					<-release // ignores cancellation until released
					j.add("returned %s", name)
					return nil
				})
			}
		}
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.Child("graceful").ShutdownTimeout(2 * time.Second).SpawnFunc(stubborn("graceful")))
		must(s.Child("brutal").ShutdownPolicy(BrutalKill).SpawnFunc(stubborn("brutal")))
		mustStart(t, s)

		t0 := time.Now()
		must(s.TerminateChild("brutal"))
		if time.Since(t0) != 0 {
			t.Fatal("BrutalKill waited")
		}
		must(s.TerminateChild("graceful"))
		if time.Since(t0) != 2*time.Second {
			t.Fatalf("Graceful(2s) took %v", time.Since(t0))
		}
		synctest.Wait()
		if kinds := ev.kinds("graceful"); kinds[len(kinds)-1] != EventChildAbandoned {
			t.Fatalf("events %v", kinds)
		}
		close(release)
		synctest.Wait()

		// Infinity waits as long as it takes.
		slow := make(chan struct{})
		must(s.Child("inf").ShutdownPolicy(Infinity).SpawnFunc(func() Child {
			return ChildFunc(func(ctx context.Context) error {
				<-ctx.Done()
				<-slow
				return nil
			})
		}))
		go func() { time.Sleep(time.Hour); close(slow) }()
		t0 = time.Now()
		must(s.TerminateChild("inf"))
		if time.Since(t0) != time.Hour {
			t.Fatalf("Infinity returned after %v", time.Since(t0))
		}
		mustStop(t, s)
	})
}
