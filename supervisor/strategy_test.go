package supervisor

import (
	"errors"
	"testing"
	"testing/synctest"
)

func TestStartOrderAndStopReverse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "a", "b", "c")
		mustStart(t, s)
		r.j.expect(t, "start a", "start b", "start c")
		r.add(t, s, "d") // dynamic: counts as newest
		r.j.expect(t, "start d")
		mustStop(t, s)
		r.j.expect(t, "stop d", "stop c", "stop b", "stop a")
	})
}

func TestOneForOneRestartsOnlyFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "a", "b", "c")
		mustStart(t, s)
		r.j.take()
		r.crash("b", errBoom)
		synctest.Wait()
		r.j.expect(t, "exit b", "start b")
		if ci := childInfo(t, s, "b"); ci.Restarts != 1 || !errors.Is(ci.LastErr, errBoom) || ci.State != ChildRunning {
			t.Fatalf("b: %+v", ci)
		}
		if ci := childInfo(t, s, "a"); ci.Restarts != 0 {
			t.Fatalf("a restarted: %+v", ci)
		}
		mustStop(t, s)
	})
}

func TestOneForAllOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForAll, Permanent, quiet)
		r.add(t, s, "a", "b", "c", "d")
		mustStart(t, s)
		r.j.take()
		r.crash("b", errBoom)
		synctest.Wait()
		r.j.expect(t, "exit b", "stop d", "stop c", "stop a", "start a", "start b", "start c", "start d")
		mustStop(t, s)
	})
}

func TestOneForAllDropsTemporarySiblings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var disposed []string
		s := New("root", OneForAll, Permanent, quiet)
		r.add(t, s, "a")
		tmp := r.spec("tmp", Temporary)
		tmp.Dispose = func(error) { disposed = append(disposed, "tmp") }
		if err := s.StartChild(tmp); err != nil {
			t.Fatal(err)
		}
		r.add(t, s, "c")
		mustStart(t, s)
		r.j.take()
		r.crash("c", errBoom)
		synctest.Wait()
		r.j.expect(t, "exit c", "stop tmp", "stop a", "start a", "start c")
		if got := names(s); len(got) != 2 || got[0] != "a" || got[1] != "c" {
			t.Fatalf("children %v", got)
		}
		if len(disposed) != 1 {
			t.Fatalf("temporary bystander not disposed: %v", disposed)
		}
		mustStop(t, s)
	})
}

func TestRestForOneOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", RestForOne, Permanent, quiet)
		r.add(t, s, "a", "b", "c", "d")
		mustStart(t, s)
		r.j.take()
		r.crash("b", errBoom)
		synctest.Wait()
		r.j.expect(t, "exit b", "stop d", "stop c", "start b", "start c", "start d")
		r.crash("d", errBoom) // the last one: nobody after it
		synctest.Wait()
		r.j.expect(t, "exit d", "start d")
		mustStop(t, s)
	})
}

func TestNoRestartTouchesNoSibling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForAll, Permanent, quiet)
		r.add(t, s, "a")
		if err := s.StartChild(r.spec("tr", Transient)); err != nil {
			t.Fatal(err)
		}
		if err := s.StartChild(r.spec("tmp", Temporary)); err != nil {
			t.Fatal(err)
		}
		r.add(t, s, "z")
		mustStart(t, s)
		r.j.take()
		r.crash("tr", nil) // normal exit of a transient
		synctest.Wait()
		r.crash("tmp", errBoom) // any exit of a temporary
		synctest.Wait()
		r.j.expect(t, "exit tr", "exit tmp")
		if got := names(s); len(got) != 3 || childInfo(t, s, "tr").State != ChildStopped {
			t.Fatalf("children %v", s.WhichChildren())
		}
		r.crash("a", wrapShutdown("ok")) // ErrShutdown is normal, but a is permanent
		synctest.Wait()
		// OTP's one_for_all starts every non-temporary spec again, the stopped
		// transient included.
		r.j.expect(t, "exit a", "stop z", "start a", "start tr", "start z")
		mustStop(t, s)
	})
}

func wrapShutdown(why string) error { return errors.Join(errors.New(why), ErrShutdown) }
