package supervisor

import (
	"context"
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
