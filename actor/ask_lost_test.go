package actor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/airssys/rt/supervisor"
)

// Requests for the lost-request tests. Each carries its Reply in another
// place of the message, as request types are written.
type (
	lostReq interface{ isLost() }
	// panicReq: Receive panics.
	panicReq struct{ reply Reply[string] }
	// failReq: Receive returns an error; the Reply sits behind a pointer.
	failReq struct {
		inner *struct{ reply Reply[string] }
	}
	// nestedReq: the Reply is in a slice of interfaces.
	nestedReq struct{ parts []any }
	// blockReq: Receive waits for gate (or its ctx), so that the mailbox fills.
	blockReq struct{}
	// echoReq: answered.
	echoReq struct {
		s     string
		reply Reply[string]
	}
)

func (panicReq) isLost()  {}
func (failReq) isLost()   {}
func (nestedReq) isLost() {}
func (blockReq) isLost()  {}
func (echoReq) isLost()   {}

func lostActor(gate chan struct{}) func() Actor[lostReq] {
	return func() Actor[lostReq] {
		return Func[lostReq](func(ctx *Context[lostReq], m lostReq) error {
			switch m := m.(type) {
			case panicReq:
				panic("callee bug")
			case failReq, nestedReq:
				return errBoom
			case blockReq:
				select {
				case <-gate:
				case <-ctx.Context().Done():
				}
			case echoReq:
				m.reply.Send(m.s)
			}
			return nil
		})
	}
}

// Issue 7 item 2: a request whose Receive crashed was a dead letter and
// Ask waited for its ctx, forever with context.Background(). Now Ask
// returns at once with the crash error, as gen_server:call does when the
// callee dies, wherever the message holds the Reply.
func TestRegressionAskFailsFastWhenTheTargetCrashes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(100, 1))
		ref, err := Spawn(sup, "callee", lostActor(nil))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()

		_, err = Ask(ctx, ref, func(r Reply[string]) lostReq { return panicReq{r} })
		var pe *supervisor.PanicError
		if !errors.As(err, &pe) || pe.Value != "callee bug" {
			t.Fatalf("Ask of a request that panicked = %v, want the *supervisor.PanicError", err)
		}
		if want := `actor "callee": ask: request lost: actor ended without replying: panic: callee bug`; err.Error() != want {
			t.Errorf("error text %q, want %q", err, want)
		}

		_, err = Ask(ctx, ref, func(r Reply[string]) lostReq {
			return failReq{&struct{ reply Reply[string] }{r}}
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Ask of a request that failed = %v, want errBoom", err)
		}

		_, err = Ask(ctx, ref, func(r Reply[string]) lostReq {
			return nestedReq{[]any{1, "x", &r}}
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Ask with the Reply nested in a slice = %v, want errBoom", err)
		}

		// The actor was restarted each time and answers again.
		if got, err := Ask(ctx, ref, func(r Reply[string]) lostReq { return echoReq{"hi", r} }); err != nil || got != "hi" {
			t.Fatalf("Ask after the crashes = %q, %v", got, err)
		}
	})
}

// Issue 7 item 2: a request dropped by a full mailbox (DropNewest: the
// request itself; DropOldest: pushed out by a later message) left Ask
// waiting for its ctx. Now Ask returns at once, wrapping ErrMailboxFull.
func TestRegressionAskFailsFastWhenTheRequestIsDropped(t *testing.T) {
	for _, policy := range []Overflow{DropNewest, DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gate := make(chan struct{})
				defer close(gate)
				sup := newSup(t, supervisor.OneForOne)
				ref, err := Spawn(sup, "callee", lostActor(gate), WithMailbox(Bounded(1, policy)))
				if err != nil {
					t.Fatal(err)
				}
				_ = ref.Send(blockReq{})
				synctest.Wait() // in Receive
				if policy == DropNewest {
					_ = ref.Send(blockReq{}) // the one slot: the request is dropped
				} else {
					go func() {
						synctest.Wait() // the request is queued: push it out
						_ = ref.Send(blockReq{})
					}()
				}
				_, err = Ask(context.Background(), ref, func(r Reply[string]) lostReq { return echoReq{"x", r} })
				if !errors.Is(err, ErrMailboxFull) {
					t.Fatalf("Ask of a dropped request = %v, want ErrMailboxFull", err)
				}
			})
		})
	}
}

// A request still queued when its actor stops for good fails its Ask with
// ErrStopped, at once (the dead letter and the actor's end both say so).
func TestAskFailsFastWhenQueuedAtStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		defer close(gate)
		sup := newSup(t, supervisor.OneForOne)
		ref, err := Spawn(sup, "callee", lostActor(gate), WithRestart(supervisor.Temporary))
		if err != nil {
			t.Fatal(err)
		}
		_ = ref.Send(blockReq{})
		synctest.Wait()
		go func() {
			synctest.Wait() // the request is queued
			_ = sup.TerminateChild("callee")
		}()
		_, err = Ask(context.Background(), ref, func(r Reply[string]) lostReq { return echoReq{"x", r} })
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Ask of a request queued at the stop = %v, want ErrStopped", err)
		}
	})
}

// A Reply handed on to another actor is not lost when the first returns:
// Ask gets the answer the second one gives. And a crash after answering
// does not replace the answer.
func TestAskReplyForwardedOrAnsweredBeforeACrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne)
		helper, err := Spawn(sup, "helper", lostActor(nil))
		if err != nil {
			t.Fatal(err)
		}
		front, err := Spawn(sup, "front", func() Actor[lostReq] {
			return Func[lostReq](func(_ *Context[lostReq], m lostReq) error {
				if e, ok := m.(echoReq); ok {
					if e.s == "crash" {
						e.reply.Send("answered first")
						return errBoom
					}
					return helper.Send(e) // the helper answers
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if got, err := Ask(ctx, front, func(r Reply[string]) lostReq { return echoReq{"fwd", r} }); err != nil || got != "fwd" {
			t.Fatalf("forwarded: %q, %v", got, err)
		}
		if got, err := Ask(ctx, front, func(r Reply[string]) lostReq { return echoReq{"crash", r} }); err != nil || got != "answered first" {
			t.Fatalf("answered, then crashed: %q, %v", got, err)
		}
	})
}

// Dead letters of requests nobody waits for are not looked into.
func TestLostRepliesNeedAWaitingAsk(t *testing.T) {
	if n := asksWaiting.Load(); n != 0 {
		t.Fatalf("%d Asks waiting with none under way", n)
	}
	var d DeadLetters
	allocs := testing.AllocsPerRun(100, func() {
		deadLetter(&d, "x", echoReq{}, errBoom)
	})
	if allocs != 0 {
		t.Fatalf("a dead letter with no Ask waiting allocates %v times", allocs)
	}
}
