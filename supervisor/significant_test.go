package supervisor

import (
	"testing"
	"testing/synctest"
)

func TestAnySignificant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithAutoShutdown(AnySignificant))
		r.add(t, s, "a")
		sig := r.spec("sig", Transient)
		sig.Significant = true
		if err := s.StartChild(sig); err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		r.crash("sig", errBoom) // abnormal: restarted, no shutdown
		synctest.Wait()
		if ci := childInfo(t, s, "sig"); ci.State != ChildRunning {
			t.Fatalf("%+v", ci)
		}
		r.j.take()
		r.crash("sig", nil) // normal exit, not restarted: the supervisor ends
		<-s.Done()
		if s.Err() != nil {
			t.Fatalf("auto shutdown is normal, got %v", s.Err())
		}
		r.j.expect(t, "exit sig", "stop a")
	})
}

func TestAllSignificant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithAutoShutdown(AllSignificant))
		for _, n := range []string{"s1", "s2", "s3"} {
			spec := r.spec(n, Temporary)
			spec.Significant = true
			if err := s.StartChild(spec); err != nil {
				t.Fatal(err)
			}
		}
		mustStart(t, s)
		if err := s.TerminateChild("s3"); err != nil { // by API: never triggers
			t.Fatal(err)
		}
		r.crash("s1", nil)
		synctest.Wait()
		select {
		case <-s.Done():
			t.Fatal("ended while s2 still runs")
		default:
		}
		r.crash("s2", errBoom) // temporary: not restarted; last significant running
		<-s.Done()
		if s.Err() != nil {
			t.Fatal(s.Err())
		}
	})
}

func TestBystanderOfGroupRestartDoesNotTriggerAutoShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForAll, Permanent, quiet, WithAutoShutdown(AnySignificant))
		sig := r.spec("sig", Temporary)
		sig.Significant = true
		if err := s.StartChild(sig); err != nil {
			t.Fatal(err)
		}
		r.add(t, s, "a")
		mustStart(t, s)
		r.crash("a", errBoom) // sig is stopped and removed as a bystander
		synctest.Wait()
		select {
		case <-s.Done():
			t.Fatal("bystander triggered auto shutdown")
		default:
		}
		if got := names(s); len(got) != 1 || got[0] != "a" {
			t.Fatalf("%v", got)
		}
		mustStop(t, s)
	})
}
