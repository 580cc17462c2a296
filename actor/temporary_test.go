package actor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/airssys/rt/supervisor"
)

// TestRegressionTemporaryActorStopsForGoodWithItsSupervisor checks that a
// Temporary actor whose supervisor is stopped by a parent's group restart
// stops for good (DESIGN §5: its spec is removed): Done closes, Err wraps
// ErrStopped, what was queued goes to dead letters, its name is free, and
// the restarted supervisor does not start it again. The supervisor used
// to keep its spec and start it again: a second incarnation from the
// factory, and a Done that never closed. Both kinds of start are checked:
// spawned before the supervisor starts (the control loop's) and after
// (the lane's).
func TestRegressionTemporaryActorStopsForGoodWithItsSupervisor(t *testing.T) {
	for _, spawnAfterStart := range []bool{false, true} {
		name := "before start"
		if spawnAfterStart {
			name = "after start"
		}
		t.Run(name, func(t *testing.T) {
			sys := NewSystem("sys", WithRootStrategy(supervisor.OneForAll), WithSystemLogger(quiet))
			letters := collect(t, sys.DeadLetters())
			sub := supervisor.New("sub", supervisor.OneForOne, supervisor.Permanent)
			if err := sys.Root().AddSupervisor(sub); err != nil {
				t.Fatal(err)
			}
			crashy, err := SpawnIn(sys, "crashy", func() Actor[int] {
				return Func[int](func(*Context[int], int) error { return errBoom })
			})
			if err != nil {
				t.Fatal(err)
			}
			var made atomic.Int32
			entered := make(chan struct{})
			factory := func() Actor[int] {
				made.Add(1)
				return Func[int](func(ctx *Context[int], m int) error {
					if m == 0 {
						close(entered)
						<-ctx.Context().Done() // busy until its supervisor stops it
					}
					return nil
				})
			}
			spawn := func() Ref[int] {
				ref, err := Spawn(sub, "temp", factory, WithRestart(supervisor.Temporary))
				if err != nil {
					t.Fatal(err)
				}
				return ref
			}
			subRestarted := make(chan struct{})
			var once sync.Once
			cancel := sys.Root().Subscribe(func(e supervisor.Event) {
				if e.Kind == supervisor.EventChildRestarted && e.Child == "sub" {
					once.Do(func() { close(subRestarted) })
				}
			})
			defer cancel()
			var temp Ref[int]
			if !spawnAfterStart {
				temp = spawn()
			}
			if err := sys.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer sys.Shutdown(context.Background())
			if spawnAfterStart {
				temp = spawn()
			}
			_ = temp.Send(0)
			<-entered
			_ = temp.Send(1) // queued behind 0
			_ = crashy.Send(1)
			<-subRestarted
			// The restarted supervisor holds no spec of it, and the
			// factory ran once.
			for _, ci := range sub.WhichChildren() {
				if ci.Name == "temp" {
					t.Fatalf("sub still holds temp: %+v", ci)
				}
			}
			if n := made.Load(); n != 1 {
				t.Fatalf("factory ran %d times, want 1", n)
			}
			<-temp.Done()
			if err := temp.Err(); !errors.Is(err, ErrStopped) || errors.Is(err, errBoom) {
				t.Fatalf("Err: %v", err)
			}
			if err := temp.Send(2); !errors.Is(err, ErrStopped) {
				t.Fatalf("Send after its stop: %v", err)
			}
			// What was queued (1), the crash (crashy's 1) and what came
			// after the stop (2), in no fixed order: the queued message
			// becomes a dead letter after Done closes.
			seen := map[string]bool{}
			for len(seen) < 3 {
				dl := <-letters
				seen[dl.Target+":"+itoa(dl.Message.(int))] = true
			}
			if !seen["temp:1"] || !seen["crashy:1"] || !seen["temp:2"] {
				t.Fatalf("dead letters %v", seen)
			}
			if _, err := Lookup[int](sys, "temp"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Lookup after its stop: %v", err)
			}
			again, err := Spawn(sub, "temp", factory, WithRestart(supervisor.Temporary))
			if err != nil {
				t.Fatalf("spawn under the freed name: %v", err)
			}
			if again == temp {
				t.Fatal("the new actor has the old one's Ref")
			}
		})
	}
}
