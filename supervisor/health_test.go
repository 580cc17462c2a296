package supervisor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/health"
)

// sick is a child whose health follows a script, one status per check;
// past the script it reports the last one.
type sick struct {
	mu     *sync.Mutex
	script *[]health.Status
	hang   bool
}

func (s *sick) Serve(ctx context.Context) error { <-ctx.Done(); return nil }

func (s *sick) CheckHealth(ctx context.Context) health.Status {
	if s.hang {
		<-ctx.Done()
		time.Sleep(time.Hour) // ignores ctx well past the timeout
		return health.Healthy()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := (*s.script)[0]
	if len(*s.script) > 1 {
		*s.script = (*s.script)[1:]
	}
	return st
}

func TestHealthThresholdRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		var mu sync.Mutex
		u, d, h := health.Unhealthy("down"), health.Degraded("slow"), health.Healthy()
		// Degraded never counts; Healthy resets; the third consecutive
		// Unhealthy restarts.
		script := []health.Status{d, u, d, u, h, u, u, d, u, h}
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		err := s.Child("w").HealthCheckInterval(time.Second).UnhealthyThreshold(3).
			SpawnFunc(func() Child { return &sick{mu: &mu, script: &script} })
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		time.Sleep(8*time.Second + time.Millisecond) // checks at 1s..8s: restart at the 8th... not yet
		synctest.Wait()
		if ci := childInfo(t, s, "w"); ci.Restarts != 0 || ci.Health != d {
			t.Fatalf("after 8 checks: %+v", ci)
		}
		time.Sleep(time.Second) // 9th check: u, u, (d), u -> 3 unhealthy
		synctest.Wait()
		ci := childInfo(t, s, "w")
		if ci.Restarts != 1 || ci.State != ChildRunning || ci.Health != h {
			t.Fatalf("after threshold: %+v", ci)
		}
		if e, ok := ev.find(EventHealthRestart); !ok || e.Health != u {
			t.Fatalf("no health restart event: %+v", e)
		}
		if got := s.Info().RestartsInWindow; got != 1 {
			t.Fatalf("health restart not counted: %d", got)
		}
		mustStop(t, s)
	})
}

func TestHealthTimeoutCountsAsUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Permanent, quiet)
		err := s.Child("w").HealthCheckInterval(time.Second).HealthCheckTimeout(100 * time.Millisecond).
			UnhealthyThreshold(2).SpawnFunc(func() Child { return &sick{hang: true} })
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		time.Sleep(2*time.Second + 200*time.Millisecond)
		synctest.Wait()
		ci := childInfo(t, s, "w")
		if ci.Restarts != 1 || !errors.Is(ci.LastErr, ErrUnhealthy) {
			t.Fatalf("%+v", ci)
		}
		mustStop(t, s)
		time.Sleep(2 * time.Hour) // let the hung checks return before the bubble ends
	})
}

// A temporary child is never restarted, by its health checks either: it is
// stopped and its spec removed.
func TestUnhealthyTemporaryIsRemovedNotRestarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		script := []health.Status{health.Unhealthy("x")}
		s := New("root", OneForOne, Permanent, quiet)
		err := s.Child("w").RestartPolicy(Temporary).HealthCheckInterval(time.Second).UnhealthyThreshold(1).
			SpawnFunc(func() Child { return &sick{mu: &mu, script: &script} })
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if n := s.CountChildren(); n.Specs != 0 {
			t.Fatalf("%+v", s.WhichChildren())
		}
		mustStop(t, s)
	})
}
