package actor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// A Temporary actor whose supervisor gives up (restart intensity
// exceeded by a sibling) and is restarted by its parent stops for good
// (93be91b): its Done closes, what was queued is a dead letter exactly
// once, its factory is not called again, Lookup fails, nothing of it is
// left in WhichChildren, and its name can be taken at once under the
// restarted supervisor.
func TestAudit3TemporaryActorGoneWhenItsSupervisorGivesUp(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())
	sub := supervisor.New("sub", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(quiet), supervisor.WithIntensity(0, time.Second))
	if err := sys.Root().AddSupervisor(sub); err != nil {
		t.Fatal(err)
	}
	subStarted := make(chan struct{}, 4)
	cancel := sub.Subscribe(func(e supervisor.Event) {
		if e.Kind == supervisor.EventSupervisorStarted {
			subStarted <- struct{}{}
		}
	})
	defer cancel()
	letters := collect(t, sys.DeadLetters())
	var made atomic.Int32
	entered := make(chan struct{})
	temp, err := Spawn(sub, "temp", func() Actor[int] {
		made.Add(1)
		return Func[int](func(ctx *Context[int], m int) error {
			if m == 0 {
				close(entered)
				<-ctx.Context().Done() // busy until sub stops it
			}
			return nil
		})
	}, WithRestart(supervisor.Temporary))
	if err != nil {
		t.Fatal(err)
	}
	crashy, err := Spawn(sub, "crashy", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return errBoom })
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = temp.Send(0)
	<-entered
	_ = temp.Send(1) // queued
	_ = crashy.Send(1)
	<-temp.Done()
	if !errors.Is(temp.Err(), ErrStopped) {
		t.Fatalf("Err: %v", temp.Err())
	}
	if _, err := Lookup[int](sys, "temp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after the stop: %v", err)
	}
	var queued int
	deadline := time.After(10 * time.Second)
	for queued == 0 {
		select {
		case dl := <-letters:
			if dl.Target == "temp" {
				if dl.Message != 1 || !errors.Is(dl.Reason, ErrStopped) {
					t.Fatalf("dead letter %+v", dl)
				}
				queued++
			}
		case <-deadline:
			t.Fatal("the queued message is no dead letter")
		}
	}
	// sub comes back (its parent restarts it) without temp.
	select {
	case <-subStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("sub not restarted")
	}
	for _, ci := range sub.WhichChildren() {
		if ci.Name == "temp" {
			t.Fatalf("temp still in WhichChildren: %+v", ci)
		}
	}
	if made.Load() != 1 {
		t.Fatalf("temp's factory called %d times, want 1", made.Load())
	}
	again, err := Spawn(sub, "temp", noop[int], WithRestart(supervisor.Temporary))
	if err != nil {
		t.Fatalf("the name after the stop: %v", err)
	}
	if got, err := Lookup[int](sys, "temp"); err != nil || got != again {
		t.Fatalf("Lookup of the successor: %v", err)
	}
	if err := temp.Send(2); !errors.Is(err, ErrStopped) {
		t.Fatalf("Send to the stopped one: %v", err)
	}
	for {
		select {
		case dl := <-letters:
			if dl.Target == "temp" && dl.Message == 1 {
				t.Fatalf("queued message dead-lettered twice")
			}
			continue
		default:
		}
		break
	}
}
