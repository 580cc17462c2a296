package actor

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/airssys/rt/supervisor"
)

func TestDeadLettersSubscribeAndCancel(t *testing.T) {
	var d DeadLetters
	got := make(chan DeadLetter, 10)
	cancel := d.Subscribe(func(dl DeadLetter) { got <- dl })
	deadLetter(&d, "x", 42, errBoom)
	if dl := <-got; dl.Message != 42 || dl.Target != "x" || !errors.Is(dl.Reason, errBoom) {
		t.Fatalf("%+v", dl)
	}
	cancel()
	cancel() // idempotent
	deadLetter(&d, "x", 43, errBoom)
	if d.Count() != 2 {
		t.Fatalf("Count %d", d.Count())
	}
	select {
	case dl := <-got:
		t.Fatalf("delivered after cancel: %+v", dl)
	default:
	}
	if d.Subscribe(nil) == nil {
		t.Fatal("nil fn")
	}
}

func TestDeadLettersSlowSubscriberDoesNotBlockSenders(t *testing.T) {
	var d DeadLetters
	release := make(chan struct{})
	var mu sync.Mutex
	var seen []any
	done := make(chan struct{})
	cancel := d.Subscribe(func(dl DeadLetter) {
		<-release
		mu.Lock()
		seen = append(seen, dl.Message)
		n := len(seen)
		mu.Unlock()
		if n == 1000 {
			close(done)
		}
	})
	defer cancel()
	fast := make(chan DeadLetter, 1000)
	cancelFast := d.Subscribe(func(dl DeadLetter) { fast <- dl })
	defer cancelFast()
	for i := range 1000 {
		deadLetter(&d, "x", i, errBoom) // returns although the first subscriber is stuck
	}
	for i := range 1000 {
		if dl := <-fast; dl.Message != i {
			t.Fatalf("fast subscriber got %v, want %d", dl.Message, i)
		}
	}
	close(release)
	<-done
	for i, m := range seen {
		if m != i {
			t.Fatalf("slow subscriber out of order at %d: %v", i, m)
		}
	}
}

func TestDeadLettersSubscriberPanicDoesNotStopDelivery(t *testing.T) {
	d := DeadLetters{logger: quiet}
	got := make(chan any, 2)
	cancel := d.Subscribe(func(dl DeadLetter) {
		if dl.Message == 1 {
			panic("subscriber bug")
		}
		got <- dl.Message
	})
	defer cancel()
	deadLetter(&d, "x", 1, errBoom)
	deadLetter(&d, "x", 2, errBoom)
	if m := <-got; m != 2 {
		t.Fatalf("got %v", m)
	}
}

func TestCancelFromInsideSubscriber(t *testing.T) {
	var d DeadLetters
	var cancel func()
	called := make(chan struct{}, 2)
	cancel = d.Subscribe(func(DeadLetter) { cancel(); called <- struct{}{} })
	deadLetter(&d, "x", 1, errBoom)
	<-called
	deadLetter(&d, "x", 2, errBoom)
	select {
	case <-called:
		t.Fatal("called after cancel")
	default:
	}
}

func TestDefaultDeadLetters(t *testing.T) {
	sup := newSup(t, 0)
	got := make(chan DeadLetter, 10)
	cancel := DefaultDeadLetters().Subscribe(func(dl DeadLetter) {
		if dl.Target == "no-system" {
			got <- dl
		}
	})
	defer cancel()
	before := DefaultDeadLetters().Count()
	ref, _ := Spawn(sup, "no-system", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return errBoom })
	})
	_ = ref.Send(1)
	if dl := <-got; dl.Message != 1 || !errors.Is(dl.Reason, errBoom) {
		t.Fatalf("%+v", dl)
	}
	if DefaultDeadLetters().Count() <= before {
		t.Fatal("Count did not move")
	}
}

// The dead-letter rule (see DeadLetters), checked on every way a Send can
// fail to deliver: a message is a dead letter exactly when its target will
// never receive it. A retryable refusal (Fail, a SendContext whose ctx
// ended under Block) is not one, and the same message sent again is
// delivered; a Send after the stop returns ErrStopped and is one; a drop
// returns nil and is one.
func TestDeadLetterRule(t *testing.T) {
	for _, policy := range []Overflow{Fail, Block, DropNewest} {
		t.Run(policy.String(), func(t *testing.T) {
			g := spawnGated(t, WithMailbox(Bounded(1, policy)), WithRestart(supervisor.Temporary))
			if err := g.ref.Send(1); err != nil { // fills the one slot
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var err error
			switch policy {
			case Fail:
				err = g.ref.Send(2)
			case Block:
				err = g.ref.c.send(ctx, 2) // past SendContext's early ctx check: waits, then gives up
			case DropNewest:
				err = g.ref.Send(2)
			}
			dropped := policy == DropNewest
			switch {
			case dropped && err != nil:
				t.Fatalf("DropNewest: Send = %v, want nil", err)
			case !dropped && err == nil:
				t.Fatalf("%v: Send on a full mailbox = nil, want a refusal", policy)
			}
			if n := g.sys.DeadLetters().Count(); n != map[bool]uint64{true: 1, false: 0}[dropped] {
				t.Fatalf("%v: %d dead letters after the refusal (%v)", policy, n, err)
			}
			close(g.release)
			g.expect(t, 0, 1)
			if !dropped { // the sender still had it: sent again, it arrives
				if err := g.ref.Send(2); err != nil {
					t.Fatal(err)
				}
				g.expect(t, 2)
			}

			// Stopped for good: Send says so, and the message is a dead letter.
			if err := g.sys.Root().TerminateChild("gated"); err != nil {
				t.Fatal(err)
			}
			<-g.ref.Done()
			before := g.sys.DeadLetters().Count()
			if err := g.ref.Send(3); !errors.Is(err, ErrStopped) {
				t.Fatalf("Send after the stop = %v, want ErrStopped", err)
			}
			if n := g.sys.DeadLetters().Count(); n != before+1 {
				t.Fatalf("Send after the stop made %d dead letters, want 1", n-before)
			}
			for dl := range g.letters {
				if dl.Message == 3 {
					if !errors.Is(dl.Reason, ErrStopped) {
						t.Fatalf("dead letter of the Send after the stop: %v", dl.Reason)
					}
					break
				}
			}
		})
	}
}
