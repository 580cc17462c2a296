package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestIntensityBoundary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(3, 5*time.Second))
		r.add(t, s, "w", "other")
		mustStart(t, s)
		for i := 1; i <= 3; i++ { // three restarts within the window are allowed
			r.crash("w", errBoom)
			synctest.Wait()
			if ci := childInfo(t, s, "w"); ci.Restarts != i || ci.State != ChildRunning {
				t.Fatalf("restart %d: %+v", i, ci)
			}
			time.Sleep(time.Second)
		}
		r.j.take()
		r.crash("w", errBoom) // the fourth within 5s is fatal
		<-s.Done()
		err := s.Err()
		if !errors.Is(err, ErrIntensityExceeded) || !errors.Is(err, errBoom) {
			t.Fatalf("Err = %v", err)
		}
		r.j.expect(t, "exit w", "stop other")
	})
}

func TestRestartsSpacedBeyondPeriodNeverAccumulate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(1, time.Second))
		r.add(t, s, "w")
		mustStart(t, s)
		for i := 1; i <= 50; i++ {
			r.crash("w", errBoom)
			synctest.Wait()
			if ci := childInfo(t, s, "w"); ci.Restarts != i || ci.State != ChildRunning {
				t.Fatalf("restart %d: %+v", i, ci)
			}
			time.Sleep(time.Second) // exactly one period: the old restart leaves the window
		}
		if got := s.Info().RestartsInWindow; got != 0 {
			t.Fatalf("RestartsInWindow = %d", got)
		}
		mustStop(t, s)
	})
}

func TestZeroIntensityEscalatesFirstFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(0, time.Second))
		r.add(t, s, "w")
		mustStart(t, s)
		r.crash("w", errBoom)
		<-s.Done()
		if !errors.Is(s.Err(), ErrIntensityExceeded) {
			t.Fatal(s.Err())
		}
	})
}

func TestManualCallsNeverCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(1, time.Hour))
		r.add(t, s, "w")
		mustStart(t, s)
		for range 10 {
			if err := s.TerminateChild("w"); err != nil {
				t.Fatal(err)
			}
			if err := s.RestartChild("w"); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 10 {
			if err := s.StartChild(r.spec(string(rune('a'+i)), Temporary)); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.Info().RestartsInWindow; got != 0 {
			t.Fatalf("manual calls counted: %d", got)
		}
		r.crash("w", errBoom) // the one allowed restart
		synctest.Wait()
		if ci := childInfo(t, s, "w"); ci.Restarts != 1 {
			t.Fatalf("%+v", ci)
		}
		mustStop(t, s)
	})
}

func TestGroupRestartCountsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForAll, Permanent, quiet, WithIntensity(2, time.Hour))
		r.add(t, s, "a", "b", "c", "d", "e")
		mustStart(t, s)
		r.crash("c", errBoom)
		synctest.Wait()
		r.crash("a", errBoom)
		synctest.Wait()
		if got := s.Info().RestartsInWindow; got != 2 {
			t.Fatalf("RestartsInWindow = %d, want one per failure", got)
		}
		if ci := childInfo(t, s, "e"); ci.State != ChildRunning || ci.Restarts != 2 {
			t.Fatalf("%+v", ci)
		}
		mustStop(t, s)
	})
}

// Escalation: a leaf that keeps failing exhausts its supervisor, which fails
// in its parent, and so on up three levels to the root.
func TestEscalationThroughThreeLevels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var ev eventLog
		root := New("root", OneForOne, Permanent, quiet, WithIntensity(1, time.Hour), WithEventHandler(ev.handler))
		mid := New("mid", OneForOne, Permanent, WithIntensity(1, time.Hour))
		leafSup := New("leaf", OneForOne, Permanent, WithIntensity(1, time.Hour))
		r.add(t, leafSup, "w")
		r.add(t, root, "sibling")
		if err := mid.AddSupervisor(leafSup); err != nil {
			t.Fatal(err)
		}
		if err := root.AddSupervisor(mid); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		if p := leafSup.Path(); p != "root/mid/leaf" {
			t.Fatalf("path %q", p)
		}
		// Each crash of w: leaf restarts it once; the second exceeds leaf's
		// intensity, so leaf fails in mid, which restarts leaf (and w);
		// and so on until root gives up.
		crashes := 0
		for {
			select {
			case <-root.Done():
				if !errors.Is(root.Err(), ErrIntensityExceeded) || !errors.Is(root.Err(), errBoom) {
					t.Fatalf("root.Err = %v", root.Err())
				}
				// leaf: 2 crashes per incarnation; mid restarts leaf once per
				// incarnation of mid; root restarts mid once: 2*2*2 crashes.
				if crashes != 8 {
					t.Fatalf("crashes = %d", crashes)
				}
				e, ok := ev.find(EventIntensityExceeded)
				if !ok || e.Supervisor != "root/mid/leaf" {
					t.Fatalf("first intensity event %+v", e)
				}
				return
			case r.failChan("w") <- errBoom:
				crashes++
				synctest.Wait()
			}
		}
	})
}

func TestFailedRestartsAreRetriedAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(5, time.Hour))
		r.add(t, s, "w")
		mustStart(t, s)
		r.j.take()
		r.failStarts("w", errBoom, errBoom)
		r.crash("w", errBoom)
		synctest.Wait()
		r.j.expect(t, "exit w", "startfail w", "startfail w", "start w")
		if got := s.Info().RestartsInWindow; got != 3 {
			t.Fatalf("RestartsInWindow = %d, want 3 (the failure and two retries)", got)
		}
		r.failStarts("w", errBoom, errBoom, errBoom)
		r.crash("w", errBoom) // 4th, then retries 5th and 6th: fatal
		<-s.Done()
		if !errors.Is(s.Err(), ErrIntensityExceeded) {
			t.Fatal(s.Err())
		}
	})
}

func TestGroupRestartRetryStopsStartedOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForAll, Permanent, quiet, WithIntensity(5, time.Hour))
		r.add(t, s, "a", "b", "c")
		mustStart(t, s)
		r.j.take()
		r.failStarts("b", errBoom)
		r.crash("c", errBoom)
		synctest.Wait()
		r.j.expect(t, "exit c", "stop b", "stop a", "start a", "startfail b", "stop a", "start a", "start b", "start c")
		mustStop(t, s)
	})
}

func TestBackoffDelaysAndServesCallsMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, ResetAfter: 10 * time.Second}
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(100, time.Hour), WithBackoff(b))
		r.add(t, s, "w", "other")
		mustStart(t, s)
		want := []time.Duration{100, 200, 400, 800, 1000, 1000}
		for i, d := range want {
			r.crash("w", errBoom)
			t0 := time.Now()
			synctest.Wait()
			if ci := childInfo(t, s, "w"); ci.State != ChildRestarting {
				t.Fatalf("during backoff: %+v", ci)
			}
			if err := s.RestartChild("w"); !errors.Is(err, ErrRestarting) {
				t.Fatalf("RestartChild while restarting = %v", err)
			}
			if err := s.DeleteChild("w"); !errors.Is(err, ErrRestarting) {
				t.Fatalf("DeleteChild while restarting = %v", err)
			}
			r.crash("other", errBoom) // the supervisor keeps supervising others meanwhile
			synctest.Wait()
			if ci := childInfo(t, s, "other"); ci.State != ChildRestarting && ci.State != ChildRunning {
				t.Fatalf("other: %+v", ci)
			}
			for childInfo(t, s, "w").State != ChildRunning {
				time.Sleep(time.Millisecond)
				synctest.Wait()
			}
			if got := time.Since(t0); got != d*time.Millisecond {
				t.Fatalf("restart %d after %v, want %v", i+1, got, d*time.Millisecond)
			}
		}
		// A child that ran for ResetAfter starts again at Initial.
		for childInfo(t, s, "other").State != ChildRunning {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		time.Sleep(10 * time.Second)
		r.crash("w", errBoom)
		t0 := time.Now()
		synctest.Wait()
		for childInfo(t, s, "w").State != ChildRunning {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		if got := time.Since(t0); got != 100*time.Millisecond {
			t.Fatalf("after reset: %v", got)
		}
		mustStop(t, s)
	})
}

func TestTerminateCancelsPendingRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithBackoff(Backoff{Initial: time.Second}))
		r.add(t, s, "w")
		mustStart(t, s)
		r.j.take()
		r.crash("w", errBoom)
		synctest.Wait()
		if err := s.TerminateChild("w"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if ci := childInfo(t, s, "w"); ci.State != ChildStopped {
			t.Fatalf("%+v", ci)
		}
		r.j.expect(t, "exit w")
		mustStop(t, s)
	})
}

func TestBackoffFormula(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Multiplier: 3}
	want := []time.Duration{1, 3, 9, 10, 10}
	for i, w := range want {
		if got := b.delay(i + 1); got != w*time.Second {
			t.Errorf("delay(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	j := Backoff{Initial: time.Second, Jitter: 0.5}
	for range 100 {
		if d := j.delay(1); d < 500*time.Millisecond || d > 1500*time.Millisecond {
			t.Fatalf("jittered delay %v", d)
		}
	}
	if (Backoff{}).delay(3) != 0 {
		t.Fatal("zero backoff delays")
	}
}

func TestSupervisorCtxNotPassedAsDeadline(t *testing.T) {
	// Children's ctx must not end when the Start ctx ends: the supervisor
	// stops them one by one, newest first.
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "a", "b", "c")
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		<-s.Done()
		r.j.expect(t, "start a", "start b", "start c", "stop c", "stop b", "stop a")
	})
}
