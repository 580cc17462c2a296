package supervisor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/health"
)

// sickRig is a rig worker whose health checks always fail.
type sickRig struct{ rigWorker }

func (*sickRig) CheckHealth(context.Context) health.Status { return health.Unhealthy("sick") }

// Found by a first user in examples/microservice: a health restart of the
// first child of a RestForOne supervisor stopped it before its younger
// siblings ("stopped db-pool, repository, cache"), though they depend on
// it. OTP stops the whole group newest first, then starts it in order;
// a child still running when the strategy acts is no exception.
func TestRegressionHealthRestartStopsGroupNewestFirst(t *testing.T) {
	for _, tc := range []struct {
		strategy Strategy
		sick     string
		want     []string
	}{
		{RestForOne, "a", []string{"stop c", "stop b", "stop a", "start a", "start b", "start c"}},
		{RestForOne, "b", []string{"stop c", "stop b", "start b", "start c"}},
		{OneForAll, "b", []string{"stop c", "stop b", "stop a", "start a", "start b", "start c"}},
		{OneForAll, "a", []string{"stop c", "stop b", "stop a", "start a", "start b", "start c"}},
		{OneForOne, "b", []string{"stop b", "start b"}},
	} {
		t.Run(tc.strategy.String()+"/"+tc.sick, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig()
				var ev eventLog
				s := New("root", tc.strategy, Permanent, quiet, WithEventHandler(ev.handler))
				for _, n := range []string{"a", "b", "c"} {
					spec := r.spec(n, DefaultRestart)
					if n == tc.sick {
						spec.New = func() Child { return &sickRig{rigWorker{r: r, name: n}} }
						spec.Health = HealthPolicy{Interval: time.Second, UnhealthyThreshold: 1}
					}
					if err := s.StartChild(spec); err != nil {
						t.Fatal(err)
					}
				}
				mustStart(t, s)
				defer s.Stop() // on failure too, so the bubble can end
				r.j.expect(t, "start a", "start b", "start c")
				time.Sleep(time.Second + time.Millisecond)
				synctest.Wait()
				r.j.expect(t, tc.want...)
				// The events tell the same story: the child_stopped events
				// follow the stops, newest first.
				var stopped []string
				ev.mu.Lock()
				for _, e := range ev.ev {
					if e.Kind == EventChildStopped {
						stopped = append(stopped, "stop "+e.Child)
					}
				}
				ev.mu.Unlock()
				var wantStopped []string
				for _, w := range tc.want {
					if w[:4] == "stop" {
						wantStopped = append(wantStopped, w)
					}
				}
				if len(stopped) != len(wantStopped) {
					t.Fatalf("child_stopped events %q, want %q", stopped, wantStopped)
				}
				for i := range stopped {
					if stopped[i] != wantStopped[i] {
						t.Fatalf("child_stopped events %q, want %q", stopped, wantStopped)
					}
				}
				if ci := childInfo(t, s, tc.sick); ci.Restarts != 1 || ci.State != ChildRunning {
					t.Fatalf("%+v", ci)
				}
				mustStop(t, s)
			})
		})
	}
}

// The same when the health restart is one too many: the supervisor gives
// up and stops everything newest first, the unhealthy child in its place.
func TestRegressionHealthRestartOverIntensityStopsNewestFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", RestForOne, Permanent, quiet, WithIntensity(0, time.Second))
		for _, n := range []string{"a", "b", "c"} {
			spec := r.spec(n, DefaultRestart)
			if n == "b" {
				spec.New = func() Child { return &sickRig{rigWorker{r: r, name: n}} }
				spec.Health = HealthPolicy{Interval: time.Second, UnhealthyThreshold: 1}
			}
			if err := s.StartChild(spec); err != nil {
				t.Fatal(err)
			}
		}
		mustStart(t, s)
		defer s.Stop()
		r.j.expect(t, "start a", "start b", "start c")
		time.Sleep(time.Second + time.Millisecond)
		<-s.Done()
		r.j.expect(t, "stop c", "stop b", "stop a")
		if !errors.Is(s.Err(), ErrUnhealthy) || !errors.Is(s.Err(), ErrIntensityExceeded) {
			t.Fatalf("%v", s.Err())
		}
	})
}

// Found by a first user: "child_start_failed restarts=3" was followed by
// "intensity_exceeded restarts=2" (a failed restart was counted, then
// uncounted), and the supervisor that gave up logged
// "supervisor_stopped restarts=0". A child's events now agree with
// ChildInfo.Restarts; the supervisor's own carry its window's count.
func TestRegressionEventRestartCountsAgree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var ev eventLog
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(2, time.Minute), WithEventHandler(ev.handler))
		r.add(t, s, "w")
		mustStart(t, s)
		defer s.Stop()
		r.crash("w", errBoom) // restart 1 succeeds
		synctest.Wait()
		r.failStarts("w", errBoom, errBoom)
		r.crash("w", errBoom) // restart 2 fails to start; its retry is one too many
		<-s.Done()
		synctest.Wait() // the handler has seen every event

		byKind := map[EventKind][]Event{}
		ev.mu.Lock()
		for _, e := range ev.ev {
			byKind[e.Kind] = append(byKind[e.Kind], e)
		}
		ev.mu.Unlock()
		failed, exceeded, stopped := byKind[EventChildStartFailed], byKind[EventIntensityExceeded], byKind[EventSupervisorStopped]
		if len(failed) != 1 || len(exceeded) != 1 || len(stopped) != 1 {
			t.Fatalf("start failed %v, exceeded %v, stopped %v", failed, exceeded, stopped)
		}
		if failed[0].Restarts != 1 || exceeded[0].Restarts != 1 {
			t.Fatalf("counts disagree: %v / %v", failed[0], exceeded[0])
		}
		if ci := childInfo(t, s, "w"); ci.Restarts != 1 {
			t.Fatalf("ChildInfo.Restarts %d, events said 1", ci.Restarts)
		}
		st := stopped[0]
		if !errors.Is(st.Err, ErrIntensityExceeded) || st.Restarts != 3 {
			t.Fatalf("stop of a supervisor that gave up: %v", st)
		}
		if got := st.String(); !strings.Contains(got, " restarts_in_window=3 ") {
			t.Fatalf("String: %s", got)
		}
		var buf bytes.Buffer
		st.log(slog.New(slog.NewTextHandler(&buf, nil)))
		if got := buf.String(); !strings.Contains(got, " restarts_in_window=3 ") || strings.Contains(got, " restarts=") {
			t.Fatalf("log: %s", got)
		}
		if got := failed[0].String(); !strings.Contains(got, " restarts=1 ") {
			t.Fatalf("String: %s", got)
		}
	})
}

// Found by a first user: errors named a supervisor by its bare name
// ("supervisor pipeline") while its events used its path
// ("demo/pipeline").
func TestRegressionErrorsNameSupervisorsByPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		var ev eventLog
		root := New("demo", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		sub := New("pipeline", OneForOne, Permanent, quiet, WithIntensity(0, time.Second))
		r.add(t, sub, "w")
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		const want = "supervisor demo/pipeline: "
		check := func(what string, err error) {
			t.Helper()
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("%s: %v, want it to begin %q", what, err, want)
			}
		}
		// Before the tree starts, and while it runs.
		check("TerminateChild before Start", sub.TerminateChild("nope"))
		check("bad spec before Start", sub.Child("a/b").Spawn(ChildFunc(func(ctx context.Context) error { return nil })))
		mustStart(t, root)
		defer root.Stop()
		check("TerminateChild while running", sub.TerminateChild("nope"))
		check("RestartChild while running", sub.RestartChild("w"))
		check("bad spec while running", sub.StartChild(Spec{Name: "x"}))
		r.crash("w", errBoom) // sub gives up at once
		synctest.Wait()
		var gaveUp []Event
		ev.mu.Lock()
		for _, e := range ev.ev {
			if e.Kind == EventIntensityExceeded {
				gaveUp = append(gaveUp, e)
			}
		}
		ev.mu.Unlock()
		if len(gaveUp) != 1 || gaveUp[0].Supervisor != "demo/pipeline" {
			t.Fatalf("%v", gaveUp)
		}
		check("intensity error", gaveUp[0].Err)
	})
}
