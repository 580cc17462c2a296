package supervisor

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestStartFailureStopsEarlierInReverse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "a", "b", "c", "d")
		r.failStarts("c", errBoom)
		err := s.Start(context.Background())
		if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), `"c"`) {
			t.Fatalf("Start = %v, want it to wrap the cause and name c", err)
		}
		r.j.expect(t, "start a", "start b", "startfail c", "stop b", "stop a")
		if n := s.CountChildren(); n.Active != 0 || n.Specs != 4 {
			t.Fatalf("counts %+v", n)
		}
		select {
		case <-s.Done():
		default:
			t.Fatal("a failed Start must leave the supervisor ended")
		}
		if err := s.StartChild(r.spec("x", Permanent)); !errors.Is(err, ErrStopped) {
			t.Fatalf("StartChild after failed Start = %v", err)
		}
	})
}

func TestStartTimeoutIsATimerNotADeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var sawDeadline atomic.Bool
		s := New("root", OneForOne, Permanent, quiet)
		err := s.Child("slow").StartTimeout(time.Second).SpawnFunc(func() Child {
			return &startFunc{start: func(ctx context.Context) error {
				_, dl := ctx.Deadline()
				sawDeadline.Store(dl)
				<-release
				return nil
			}}
		})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		err = s.Start(context.Background())
		if !errors.Is(err, ErrStartTimeout) || time.Since(t0) != time.Second {
			t.Fatalf("Start = %v after %v", err, time.Since(t0))
		}
		if sawDeadline.Load() {
			t.Fatal("Start's ctx carries a deadline")
		}
		close(release) // the abandoned Start returns; it must not Serve
		synctest.Wait()
	})
}

// startFunc is a Starter whose Serve waits for cancellation.
type startFunc struct {
	start func(ctx context.Context) error
}

func (s *startFunc) Start(ctx context.Context) error { return s.start(ctx) }
func (s *startFunc) Serve(ctx context.Context) error { <-ctx.Done(); return nil }

func TestStartBeforeServeAndBeforeNextSibling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var j journal
		mk := func(name string) func() Child {
			return func() Child {
				return &startFunc{start: func(ctx context.Context) error {
					j.add("begin %s", name)
					time.Sleep(time.Millisecond) // Start takes time; the next must wait
					j.add("end %s", name)
					return nil
				}}
			}
		}
		s := New("root", OneForOne, Permanent, quiet)
		for _, n := range []string{"a", "b"} {
			if err := s.Child(n).SpawnFunc(mk(n)); err != nil {
				t.Fatal(err)
			}
		}
		mustStart(t, s)
		j.expect(t, "begin a", "end a", "begin b", "end b")
		mustStop(t, s)
	})
}

func TestEndedSupervisorRestartsWithItsSpecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "a", "b")
		mustStart(t, s)
		mustStop(t, s)
		r.j.expect(t, "start a", "start b", "stop b", "stop a")
		for _, call := range []func() error{
			func() error { return s.StartChild(r.spec("c", Permanent)) },
			func() error { return s.TerminateChild("a") },
			func() error { return s.RestartChild("a") },
			func() error { return s.DeleteChild("a") },
		} {
			if err := call(); !errors.Is(err, ErrStopped) {
				t.Fatalf("call on ended supervisor = %v, want ErrStopped", err)
			}
		}
		if err := s.Stop(); err != nil {
			t.Fatalf("second Stop = %v", err)
		}
		mustStart(t, s)
		r.j.expect(t, "start a", "start b")
		if err := s.Start(context.Background()); !errors.Is(err, ErrAlreadyStarted) {
			t.Fatalf("Start while running = %v", err)
		}
		mustStop(t, s)
	})
}

func TestCtxEndShutsDownLikeStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "a", "b")
		ctx, cancel := context.WithCancel(context.Background())
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		<-s.Done()
		r.j.expect(t, "start a", "start b", "stop b", "stop a")
		if s.Err() != nil {
			t.Fatalf("Err = %v", s.Err())
		}
	})
}

func TestServeBlocksUntilCtxEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "a")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Serve(ctx); err != nil {
			t.Fatalf("Serve = %v", err)
		}
		r.j.expect(t, "start a", "stop a")
	})
}

func TestExitReasons(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		restart bool // for a Transient child
	}{
		{"nil", nil, false},
		{"shutdown", ErrShutdown, false},
		{"wrapped shutdown", wrapShutdown("done"), false},
		{"error", errBoom, true},
		{"own ctx error", context.DeadlineExceeded, true},
		{"own cancel", context.Canceled, true},
		{"panic", panicked{v: "oops"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig()
				s := New("root", OneForOne, Transient, quiet)
				r.add(t, s, "w")
				mustStart(t, s)
				r.j.take()
				r.crash("w", tc.err)
				synctest.Wait()
				ci := childInfo(t, s, "w")
				if got := ci.Restarts == 1; got != tc.restart {
					t.Fatalf("restarted=%v want %v (%+v)", got, tc.restart, ci)
				}
				if !tc.restart && ci.State != ChildStopped {
					t.Fatalf("state %v", ci.State)
				}
				if tc.name == "panic" {
					var pe *PanicError
					if !errors.As(ci.LastErr, &pe) || pe.Value != "oops" || !strings.Contains(pe.Stack(), "rigWorker") {
						t.Fatalf("LastErr = %#v", ci.LastErr)
					}
				}
				mustStop(t, s)
			})
		})
	}
}

func TestReturnAfterSupervisorCancelIsNormal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		err := s.SpawnChild("w", ChildFunc(func(ctx context.Context) error {
			<-ctx.Done()
			return errors.New("interrupted") // an error, but we asked it to stop
		}))
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		if err := s.TerminateChild("w"); err != nil {
			t.Fatal(err)
		}
		ci := childInfo(t, s, "w")
		if ci.State != ChildStopped || ci.Restarts != 0 || ci.LastErr != nil {
			t.Fatalf("%+v", ci)
		}
		mustStop(t, s)
		if _, failed := ev.find(EventChildFailed); failed {
			t.Fatal("a stop the supervisor asked for was reported as a failure")
		}
	})
}

func TestPermanentRestartsAfterNormalExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		r.add(t, s, "w")
		mustStart(t, s)
		r.crash("w", nil)
		synctest.Wait()
		if ci := childInfo(t, s, "w"); ci.Restarts != 1 || ci.State != ChildRunning {
			t.Fatalf("%+v", ci)
		}
		mustStop(t, s)
	})
}

func TestTransientStaysAsStoppedSpec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		if err := s.StartChild(r.spec("t", Transient)); err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		r.crash("t", nil)
		synctest.Wait()
		if ci := childInfo(t, s, "t"); ci.State != ChildStopped {
			t.Fatalf("%+v", ci)
		}
		if err := s.RestartChild("t"); err != nil {
			t.Fatal(err)
		}
		if ci := childInfo(t, s, "t"); ci.State != ChildRunning || ci.Restarts != 0 {
			t.Fatalf("manual restart: %+v", ci)
		}
		mustStop(t, s)
	})
}

func TestTemporaryRemovedOnAnyExit(t *testing.T) {
	for _, exit := range []error{nil, errBoom} {
		synctest.Test(t, func(t *testing.T) {
			r := newRig()
			var gone []error
			s := New("root", OneForOne, Temporary, quiet)
			spec := r.spec("t", DefaultRestart)
			spec.Dispose = func(err error) { gone = append(gone, err) }
			if err := s.StartChild(spec); err != nil {
				t.Fatal(err)
			}
			mustStart(t, s)
			r.crash("t", exit)
			synctest.Wait()
			if n := s.CountChildren(); n.Specs != 0 {
				t.Fatalf("temporary spec kept: %+v", n)
			}
			if len(gone) != 1 || gone[0] != exit {
				t.Fatalf("Dispose calls %v", gone)
			}
			mustStop(t, s)
		})
	}
}

// Found by FuzzSupervisorAgainstModel: a child whose goroutine was slow to
// go from Start to Serve, and was stopped in between, skipped Serve and
// never reported its exit, so Stop waited out its Graceful timeout and
// reported it abandoned.
func TestRegressionStopBetweenStartAndServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		testHookAfterStart = func() { <-release }
		defer func() { testHookAfterStart = nil }()
		r := newRig()
		var ev eventLog
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		r.add(t, s, "a")
		mustStart(t, s) // a's goroutine is held between Start and Serve
		t0 := time.Now()
		stopped := make(chan error)
		go func() { stopped <- s.Stop() }()
		synctest.Wait() // the supervisor has cancelled a and waits for it
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if time.Since(t0) != 0 {
			t.Fatalf("Stop took %v", time.Since(t0))
		}
		if _, ok := ev.find(EventChildAbandoned); ok {
			t.Fatal("a child was abandoned")
		}
		r.j.expect(t, "start a", "stop a")
	})
}
