package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestSubSupervisorRestartsAsAWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		root := New("root", OneForOne, Permanent, quiet)
		sub := New("sub", OneForOne, Permanent, WithIntensity(0, time.Second))
		r.add(t, sub, "x", "y")
		r.add(t, root, "before")
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		r.add(t, root, "after")
		mustStart(t, root)
		r.j.expect(t, "start before", "start x", "start y", "start after")
		r.crash("x", errBoom) // sub gives up at once; root restarts it
		synctest.Wait()
		r.j.expect(t, "exit x", "stop y", "start x", "start y")
		if ci := childInfo(t, root, "sub"); ci.Restarts != 1 || !errors.Is(ci.LastErr, ErrIntensityExceeded) || ci.State != ChildRunning {
			t.Fatalf("%+v", ci)
		}
		mustStop(t, root)
		r.j.expect(t, "stop after", "stop y", "stop x", "stop before")
	})
}

// launched is a goroutine-less child using the Launcher seam.
type launched struct {
	j    *journal
	name string
	fail chan error
}

func (l *launched) Serve(ctx context.Context) error { panic("Serve must not be called on a Launcher") }

func (l *launched) Launch(ctx context.Context, exit func(error)) {
	l.j.add("launch %s", l.name)
	stop := context.AfterFunc(ctx, func() { l.j.add("cancel %s", l.name); exit(nil) })
	go func() {
		if err, ok := <-l.fail; ok && stop() {
			exit(err)
		}
	}()
}

func TestLauncherSeamAndDispose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var j journal
		fail := make(chan error)
		var disposed []string
		root := New("root", OneForOne, Permanent, quiet)
		sub := New("sub", OneForOne, Permanent)
		spec := Spec{Name: "act", New: func() Child { return &launched{j: &j, name: "act", fail: fail} },
			Dispose: func(err error) { disposed = append(disposed, "act") }}
		if err := sub.StartChild(spec); err != nil {
			t.Fatal(err)
		}
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		fail <- errBoom
		synctest.Wait()
		j.expect(t, "launch act", "launch act")
		if ci := childInfo(t, sub, "act"); ci.Restarts != 1 || !errors.Is(ci.LastErr, errBoom) {
			t.Fatalf("%+v", ci)
		}
		if len(disposed) != 0 {
			t.Fatal("disposed while its tree lives")
		}
		close(fail)
		mustStop(t, root)
		j.expect(t, "cancel act")
		if len(disposed) != 1 {
			t.Fatalf("the end of the top-level tree must dispose nested specs: %v", disposed)
		}
		if n := sub.CountChildren(); n.Specs != 0 {
			t.Fatalf("disposed spec kept: %+v", n)
		}
	})
}

func TestDeletingSubSupervisorDisposesItsTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var disposed int
		root := New("root", OneForOne, Permanent, quiet)
		sub := New("sub", OneForOne, Permanent)
		spec := r.spec("w", Permanent)
		spec.Dispose = func(error) { disposed++ }
		if err := sub.StartChild(spec); err != nil {
			t.Fatal(err)
		}
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		if err := root.TerminateChild("sub"); err != nil {
			t.Fatal(err)
		}
		if disposed != 0 {
			t.Fatal("terminating is not removing")
		}
		if err := root.DeleteChild("sub"); err != nil {
			t.Fatal(err)
		}
		if disposed != 1 {
			t.Fatalf("disposed %d", disposed)
		}
		mustStop(t, root)
	})
}

func TestSupervisorCannotSuperviseItself(t *testing.T) {
	s := New("root", OneForOne, Permanent, quiet)
	if err := s.AddSupervisor(s); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("AddSupervisor(self) = %v", err)
	}
}

func TestSlowEventHandlerDoesNotStallSupervision(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		unblock := make(chan struct{})
		var seen int
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(1000, time.Hour), WithEventHandler(func(Event) {
			<-unblock
			seen++
		}))
		r.add(t, s, "w")
		mustStart(t, s)
		for i := 1; i <= 100; i++ {
			r.crash("w", errBoom)
			synctest.Wait()
		}
		if ci := childInfo(t, s, "w"); ci.Restarts != 100 {
			t.Fatalf("%+v", ci)
		}
		close(unblock)
		mustStop(t, s)
		// started, then per crash: failed + restarted; stop: stopped + supervisor stopped
		if want := 2 + 200 + 2; seen != want {
			t.Fatalf("handler saw %d events, want %d: none may be lost", seen, want)
		}
	})
}

func TestEventsCarryPathChildKindErrRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var ev eventLog
		root := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		web := New("web", OneForOne, Permanent)
		r.add(t, web, "h")
		if err := root.AddSupervisor(web); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		r.crash("h", errBoom)
		synctest.Wait()
		e, ok := ev.find(EventChildFailed)
		if !ok || e.Supervisor != "root/web" || e.Child != "h" || !errors.Is(e.Err, errBoom) || e.Time.IsZero() {
			t.Fatalf("%+v", e)
		}
		e, _ = ev.find(EventChildRestarted)
		if e.Restarts != 1 {
			t.Fatalf("%+v", e)
		}
		if got := e.String(); got != "root/web/h child_restarted restarts=1" {
			t.Fatalf("String() = %q", got)
		}
		var n int
		cancel := root.Subscribe(func(Event) { n++ })
		r.crash("h", errBoom)
		synctest.Wait()
		cancel()
		if n != 2 {
			t.Fatalf("subscriber saw %d", n)
		}
		mustStop(t, root)
	})
}
