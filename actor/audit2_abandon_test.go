package actor

// Adversarial tests of an actor's incarnation that outlives its shutdown
// (audit2): its late end is reported through a ctx whose supervisor has
// given up on it, or stopped, or started a new incarnation meanwhile.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/supervisor"
)

// a2Blocker blocks its Receive on "block" until release is closed,
// ignoring its ctx: an incarnation that cannot be stopped in time.
type a2Blocker struct {
	tr      *a2Track
	in      chan<- struct{}
	release <-chan struct{}
}

func (a *a2Blocker) Receive(_ *Context[string], m string) error {
	if a.tr.inReceive.Add(1) != 1 {
		a.tr.overlap.Add(1)
	}
	defer a.tr.inReceive.Add(-1)
	if m == "block" {
		a.in <- struct{}{}
		<-a.release
	}
	a.tr.preStarts.Add(1) // here: messages handled
	return nil
}

func (a *a2Blocker) PostStop(*Context[string]) { a.tr.postStops.Add(1) }

// TestAudit2AbandonedThenRestarted terminates an actor whose Receive does
// not return (Graceful(1s): abandoned, reported), restarts it by
// RestartChild while the old Receive still runs, and then lets the old one
// finish. It catches the new incarnation's Receive running beside the old
// one, the old incarnation's late exit (reported through its own ctx)
// taken for the new one's (an event, a restart, a stop), and a PostStop
// missed or doubled.
func TestAudit2AbandonedThenRestarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := newA2Events()
		sup := idleSup("ab", supervisor.OneForOne, supervisor.WithEventHandler(ev.handle))
		if err := sup.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var tr a2Track
		in := make(chan struct{}, 1)
		release := make(chan struct{})
		made := 0
		ref, err := Spawn(sup, "b", func() Actor[string] {
			made++
			return &a2Blocker{tr: &tr, in: in, release: release}
		}, WithShutdown(supervisor.Graceful(time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.Send("block"); err != nil {
			t.Fatal(err)
		}
		<-in
		if err := sup.TerminateChild("b"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the events are delivered
		if got := ev.count("b", supervisor.EventChildAbandoned); got != 1 {
			t.Fatalf("%d child_abandoned after the Graceful timeout, want 1", got)
		}
		if err := sup.RestartChild("b"); err != nil {
			t.Fatal(err)
		}
		if err := ref.Send("after"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if tr.preStarts.Load() != 0 {
			t.Fatal("the new incarnation received while the abandoned one was still in Receive")
		}
		close(release)
		synctest.Wait()
		if got := tr.preStarts.Load(); got != 2 {
			t.Fatalf("%d messages handled, want 2 (the blocked one, then the one after)", got)
		}
		if tr.overlap.Load() != 0 {
			t.Fatal("two Receives of one actor ran at once")
		}
		if got := tr.postStops.Load(); got != 1 {
			t.Fatalf("%d PostStops after the abandoned incarnation ended, want 1", got)
		}
		infos := sup.WhichChildren()
		if len(infos) != 1 || infos[0].State != supervisor.ChildRunning {
			t.Fatalf("children %+v: the late end of the abandoned incarnation touched the new one", infos)
		}
		if got := ev.count("b", supervisor.EventChildExited) + ev.count("b", supervisor.EventChildFailed); got != 0 {
			t.Fatalf("%d exit events: the abandoned incarnation's late end was reported as the new one's", got)
		}
		if err := sup.Stop(); err != nil {
			t.Fatal(err)
		}
		ev.check(t)
		if got := tr.postStops.Load(); got != 2 {
			t.Fatalf("%d PostStops after Stop, want 2", got)
		}
		if made != 2 {
			t.Fatalf("%d incarnations made, want 2", made)
		}
	})
}

// TestAudit2AbandonedOutlivesItsSupervisor stops a supervisor while an
// actor's Receive does not return: the incarnation is abandoned and Stop
// returns; the Receive ends later and reports its end through the ctx of
// a run that has ended. It catches a panic or a hang in that late report,
// a PostStop missed, messages kept rather than dead-lettered, and (the
// bubble must empty) a goroutine left behind.
func TestAudit2AbandonedOutlivesItsSupervisor(t *testing.T) {
	for _, brutal := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			sys := NewSystem("ab", WithSystemLogger(quiet))
			if err := sys.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			var tr a2Track
			in := make(chan struct{}, 1)
			release := make(chan struct{})
			pol := supervisor.Graceful(time.Second)
			if brutal {
				pol = supervisor.BrutalKill
			}
			ref, err := Spawn(sys.Root(), "b", func() Actor[string] {
				return &a2Blocker{tr: &tr, in: in, release: release}
			}, WithShutdown(pol))
			if err != nil {
				t.Fatal(err)
			}
			_ = ref.Send("block")
			<-in
			_ = ref.Send("queued")
			if err := sys.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			close(release)
			synctest.Wait()
			if got := tr.postStops.Load(); got != 1 {
				t.Fatalf("brutal=%v: %d PostStops, want 1", brutal, got)
			}
			if got := tr.preStarts.Load(); got != 1 {
				t.Fatalf("brutal=%v: %d messages handled after the stop for good, want only the blocked one", brutal, got)
			}
			if got := sys.DeadLetters().Count(); got != 1 {
				t.Fatalf("brutal=%v: %d dead letters, want 1 (the message queued behind the blocked one)", brutal, got)
			}
			select {
			case <-ref.Done():
			default:
				t.Fatal("Done not closed")
			}
		})
	}
}
