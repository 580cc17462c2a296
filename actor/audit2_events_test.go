package actor

// Adversarial tests of the event dispatcher (audit2), driven by real
// actors on the lane: their starts are emitted on the spawning goroutines
// and their exits by the lane's reaper, so many goroutines emit into one
// supervisor's queue at once.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// TestAudit2EventsFromManyEmitters spawns Temporary actors from several
// goroutines, each stopping itself on its first message, while one
// subscriber is stuck in its first call. It catches an event lost or
// duplicated under concurrent emitters (each child must have exactly
// started, exited, removed, in that order, for the handler and for the
// subscriber alike), and a slow subscriber that stalls spawns or exits.
func TestAudit2EventsFromManyEmitters(t *testing.T) {
	for round := range 5 {
		a2ManyEmitters(t, round)
	}
}

func a2ManyEmitters(t *testing.T, round int) {
	const (
		spawners = 6
		each     = 150
	)
	handler := newA2Events()
	sup := idleSup("ev", supervisor.OneForOne, supervisor.WithEventHandler(handler.handle))
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	slow := newA2Events()
	gate := make(chan struct{})
	var first sync.Once
	cancel := sup.Subscribe(func(ev supervisor.Event) {
		first.Do(func() { <-gate })
		slow.handle(ev)
	})
	defer cancel()
	var wg sync.WaitGroup
	refs := make([][]Ref[a2Msg], spawners)
	for g := range spawners {
		wg.Go(func() {
			for i := range each {
				var tr a2Track
				ref, err := Spawn(sup, fmt.Sprintf("t%d-%d", g, i), tr.factory(false), WithRestart(supervisor.Temporary))
				if err != nil {
					t.Errorf("spawn: %v", err)
					return
				}
				refs[g] = append(refs[g], ref)
				if err := ref.Send(a2Msg{op: a2Shut}); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	// With the subscriber stuck, every spawn returns and every actor
	// stops for good: nothing of the supervisor waits for a subscriber.
	spawned := make(chan struct{})
	go func() { wg.Wait(); close(spawned) }()
	select {
	case <-spawned:
	case <-time.After(20 * time.Second):
		close(gate)
		t.Fatal("spawns stalled behind a stuck subscriber")
	}
	for _, rs := range refs {
		for _, ref := range rs {
			select {
			case <-ref.Done():
			case <-time.After(20 * time.Second):
				close(gate)
				t.Fatalf("%s: not done while a subscriber is stuck", ref.Name())
			}
		}
	}
	close(gate)
	if err := sup.Stop(); err != nil {
		t.Fatal(err)
	}
	for who, ev := range map[string]*a2Events{"handler": handler, "subscriber": slow} {
		ev.check(t)
		ev.mu.Lock()
		if len(ev.counts) != spawners*each {
			t.Errorf("round %d %s: events of %d children, want %d", round, who, len(ev.counts), spawners*each)
		}
		for name, c := range ev.counts {
			if c[supervisor.EventChildStarted] != 1 || c[supervisor.EventChildExited] != 1 || c[supervisor.EventChildRemoved] != 1 || len(c) != 3 {
				t.Errorf("round %d %s: %s had %v, want one each of started, exited, removed", round, who, name, c)
			}
		}
		ev.mu.Unlock()
	}
}

// TestAudit2UnsubscribeInFlight cancels subscriptions while events are
// being emitted from several goroutines. It catches fn called after its
// cancel has returned, a cancel that hangs while events are in flight,
// and (goleak) a delivery goroutine left behind.
func TestAudit2UnsubscribeInFlight(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var tr a2Track
				ref, err := Spawn(sup, fmt.Sprintf("u%d-%d", g, i), tr.factory(false), WithRestart(supervisor.Temporary))
				if err != nil {
					t.Errorf("spawn: %v", err)
					return
				}
				_ = ref.Send(a2Msg{op: a2Shut})
			}
		})
	}
	var late atomic.Int64 // calls after their cancel returned, of any round
	for range 20 {
		var cancelled atomic.Bool
		var calls atomic.Int64
		cancel := sup.Subscribe(func(supervisor.Event) {
			calls.Add(1)
			if cancelled.Load() {
				late.Add(1)
			}
		})
		for calls.Load() == 0 {
			time.Sleep(10 * time.Microsecond) // until a delivery is under way; not a timing assumption
		}
		done := make(chan struct{})
		go func() { cancel(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("cancel hangs with events in flight")
		}
		cancelled.Store(true)
	}
	close(stop)
	wg.Wait()
	if err := sup.Stop(); err != nil {
		t.Fatal(err)
	}
	if late.Load() != 0 {
		t.Fatalf("fn called %d times after its cancel returned", late.Load())
	}
}
