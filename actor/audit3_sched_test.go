package actor

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/supervisor"
)

// Invariants of activations (scheduler.go) that any change to how they
// are run (reusing goroutines, say) must keep: an actor's Receive is
// never concurrent; a message sent while the actor goes idle is handled
// (no lost wake-up); actors spawned in a synctest bubble run inside it,
// and leave nothing running once their System has shut down; an idle
// actor (no goroutine) can be stopped, crashed and restarted.

// Request/reply pairs, each message sent only after the previous reply,
// so that every send meets the actor lingering or going idle: a lost
// wake-up leaves a reply missing for good (the timer only ends a failing
// run). Several pairs run at once, with and without a yield between.
func TestAudit3NoLostWakeUp(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())
	const pairs, rounds = 6, 3000
	var wg sync.WaitGroup
	for p := range pairs {
		reply := make(chan int, 1)
		var in atomic.Int32
		mb := Unbounded()
		if p%2 == 1 {
			mb = Bounded(1, Block)
		}
		ref, err := SpawnIn(sys, "echo"+string(rune('a'+p)), func() Actor[int] {
			return Func[int](func(_ *Context[int], m int) error {
				if in.Add(1) != 1 {
					t.Error("Receive ran concurrently")
				}
				in.Add(-1)
				reply <- m
				return nil
			})
		}, WithMailbox(mb))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			timer := time.NewTimer(time.Minute)
			defer timer.Stop()
			for i := range rounds {
				if err := ref.Send(i); err != nil {
					t.Error(err)
					return
				}
				select {
				case m := <-reply:
					if m != i {
						t.Errorf("reply %d to %d", m, i)
						return
					}
				case <-timer.C:
					t.Errorf("pair %d: no reply to message %d: a lost wake-up", p, i)
					return
				}
				if i%3 == 0 {
					runtime.Gosched() // let the actor go idle now and then
				}
			}
		})
	}
	wg.Wait()
}

// Actors spawned inside a bubble run inside it: synctest.Wait returns
// only once their activations have handled what was sent and gone idle,
// and the bubble ends only if nothing of theirs is left after Shutdown
// (a goroutine left blocked would make synctest.Test fail).
func TestAudit3ActorsRunInTheBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var handled atomic.Int64
		refs := make([]Ref[int], 20)
		for i := range refs {
			var err error
			refs[i], err = SpawnIn(sys, "a"+string(rune('a'+i)), func() Actor[int] {
				return Func[int](func(ctx *Context[int], m int) error {
					handled.Add(1)
					if m > 0 { // pass it on: actors sending to actors
						return refs[(i+1)%len(refs)].Send(m - 1)
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range refs {
			_ = refs[i].Send(50)
		}
		synctest.Wait()
		if n := handled.Load(); n != 20*51 {
			t.Fatalf("handled %d after synctest.Wait, want %d", n, 20*51)
		}
		for _, r := range refs {
			if st := r.Stats(); st.MailboxLen != 0 || !st.Running {
				t.Fatalf("%+v", st)
			}
		}
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, r := range refs {
			select {
			case <-r.Done():
			default:
				t.Fatalf("%s: Done open after Shutdown", r.Name())
			}
		}
	})
}

// An idle actor (its activation ended: synctest.Wait) is stopped by
// TerminateChild, keeps what is sent meanwhile, and handles it after
// RestartChild; an idle actor crashed by Crash restarts and handles
// what follows; Stop while idle ends it for good.
func TestAudit3StopAndRestartWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := idleSup("s", supervisor.OneForOne)
		var made atomic.Int32
		got := make(chan [2]int32, 100)
		ref, err := Spawn(sup, "a", func() Actor[int] {
			inc := made.Add(1)
			return Func[int](func(_ *Context[int], m int) error {
				got <- [2]int32{inc, int32(m)}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sup.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		expect := func(inc int32, m int) {
			t.Helper()
			synctest.Wait()
			select {
			case g := <-got:
				if g != [2]int32{inc, int32(m)} {
					t.Fatalf("got %v, want message %d in incarnation %d", g, m, inc)
				}
			default:
				t.Fatalf("message %d not handled", m)
			}
		}
		_ = ref.Send(1)
		expect(1, 1)
		if err := sup.TerminateChild("a"); err != nil { // idle
			t.Fatal(err)
		}
		_ = ref.Send(2) // waits for the next incarnation
		synctest.Wait()
		if len(got) != 0 || ref.Stats().MailboxLen != 1 {
			t.Fatalf("handled while terminated: %d, MailboxLen %d", len(got), ref.Stats().MailboxLen)
		}
		if err := sup.RestartChild("a"); err != nil {
			t.Fatal(err)
		}
		expect(2, 2)
		crashInstance(t, sup, "a", errBoom) // idle
		synctest.Wait()
		if made.Load() != 3 {
			t.Fatalf("%d incarnations after a crash while idle, want 3", made.Load())
		}
		_ = ref.Send(3)
		expect(3, 3)
		if err := sup.Stop(); err != nil { // idle
			t.Fatal(err)
		}
		<-ref.Done()
		if err := ref.Send(4); err == nil {
			t.Fatal("Send after Stop")
		}
	})
}
