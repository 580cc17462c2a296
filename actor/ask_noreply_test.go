package actor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/supervisor"
)

// askPatience bounds the Asks of these tests: under synctest a lost
// request that Ask does not notice shows as this much fake time passing
// and a context.DeadlineExceeded, instead of a hung test.
const askPatience = time.Hour

// askNow asks and checks that the answer came without the ctx running
// out: the outcome is decided by the actor, not by the deadline.
func askNow[M, R any](t *testing.T, ref Ref[M], build func(Reply[R]) M) (R, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), askPatience)
	defer cancel()
	start := time.Now()
	v, err := Ask(ctx, ref, build)
	if errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 0 {
		t.Fatalf("Ask waited %v for its ctx: %v", time.Since(start), err)
	}
	return v, err
}

// A Receive that stops its incarnation with supervisor.ErrShutdown while
// handling a request, without answering, used to leave the Ask waiting for
// its ctx: the message counted as handled, so it was no dead letter, and a
// Permanent actor is started again, so Done never closed. Now Ask fails
// at once with ErrNoReply, wrapping the ErrShutdown.
func TestRegressionAskFailsWhenReceiveStopsWithTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne)
		ref, err := Spawn(sup, "quitter", func() Actor[echoReq] {
			return Func[echoReq](func(_ *Context[echoReq], m echoReq) error {
				if m.s == "quit" {
					return fmt.Errorf("told to quit: %w", supervisor.ErrShutdown)
				}
				m.reply.Send(m.s)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = askNow(t, ref, func(r Reply[string]) echoReq { return echoReq{"quit", r} })
		if !errors.Is(err, ErrNoReply) || !errors.Is(err, supervisor.ErrShutdown) {
			t.Fatalf("Ask of a request whose Receive stopped the actor = %v, want ErrNoReply and ErrShutdown", err)
		}
		if want := `actor "quitter": ask: request lost: actor ended without replying: told to quit: shutdown`; err.Error() != want {
			t.Errorf("error text %q, want %q", err, want)
		}
		// Permanent: started again, and answers.
		if got, err := askNow(t, ref, func(r Reply[string]) echoReq { return echoReq{"hi", r} }); err != nil || got != "hi" {
			t.Fatalf("Ask after the stop = %q, %v", got, err)
		}
	})
}

// A Temporary actor's normal end is its stop for good: the Ask it held
// fails with ErrStopped (as DESIGN says) and ErrNoReply, whichever of the
// two reports comes first.
func TestAskTemporaryStopsWithTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne)
		ref, err := Spawn(sup, "quitter", func() Actor[echoReq] {
			return Func[echoReq](func(*Context[echoReq], echoReq) error { return supervisor.ErrShutdown })
		}, WithRestart(supervisor.Temporary))
		if err != nil {
			t.Fatal(err)
		}
		_, err = askNow(t, ref, func(r Reply[string]) echoReq { return echoReq{"quit", r} })
		if !errors.Is(err, ErrStopped) || !errors.Is(err, ErrNoReply) {
			t.Fatalf("Ask held by a Temporary actor that stopped = %v, want ErrStopped and ErrNoReply", err)
		}
	})
}

// A crash while handling the request fails the Ask with ErrNoReply too,
// so that one errors.Is covers every way the taker can end, and still with
// the crash error.
func TestAskCrashOnTheRequestWrapsErrNoReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(100, 1))
		ref, err := Spawn(sup, "callee", lostActor(nil))
		if err != nil {
			t.Fatal(err)
		}
		_, err = askNow(t, ref, func(r Reply[string]) lostReq { return panicReq{r} })
		var pe *supervisor.PanicError
		if !errors.Is(err, ErrNoReply) || !errors.As(err, &pe) {
			t.Fatalf("Ask of a request that panicked = %v, want ErrNoReply and the *supervisor.PanicError", err)
		}
		_, err = askNow(t, ref, func(r Reply[string]) lostReq {
			return failReq{&struct{ reply Reply[string] }{r}}
		})
		if !errors.Is(err, ErrNoReply) || !errors.Is(err, errBoom) {
			t.Fatalf("Ask of a request that failed = %v, want ErrNoReply and errBoom", err)
		}
	})
}

// Messages of the holder actor, which keeps requests to answer later.
type (
	holdMsg interface{ isHold() }
	// holdReq is kept, unanswered, in the actor's fields.
	holdReq struct{ reply Reply[string] }
	// endReq ends the incarnation: with err, or with a panic if err is nil.
	endReq  struct{ err error }
	idleReq struct{} // does nothing
)

func (holdReq) isHold() {}
func (endReq) isHold()  {}
func (idleReq) isHold() {}

// holder keeps Replies in a slice and behind a pointer, as an actor that
// answers later does; PostStop answers them if answerAtStop.
type holder struct {
	pending      []Reply[string]
	last         *holdReq
	answerAtStop bool
}

func (h *holder) Receive(_ *Context[holdMsg], m holdMsg) error {
	switch m := m.(type) {
	case holdReq:
		if h.last == nil {
			h.last = &m
		} else {
			h.pending = append(h.pending, m.reply)
		}
	case endReq:
		if m.err == nil {
			panic("holder bug")
		}
		return m.err
	}
	return nil
}

func (h *holder) PostStop(*Context[holdMsg]) {
	if h.answerAtStop {
		for _, r := range h.pending {
			r.Send("answered at stop")
		}
		if h.last != nil {
			h.last.reply.Send("answered at stop")
		}
	}
}

// An actor that keeps a request's Reply in its state to answer later, and
// whose incarnation then ends (a crash on another message, a panic,
// ErrShutdown, its supervisor stopping or restarting it), used to leave the
// Ask waiting for its ctx: the fresh incarnation knows nothing of the
// request. Now every such Ask fails at once with ErrNoReply and the cause.
func TestRegressionAskFailsWhenTheHolderEnds(t *testing.T) {
	var sib Ref[struct{}] // the holder's sibling, which crashes on any message
	cases := []struct {
		name  string
		end   func(sup *supervisor.Supervisor, ref Ref[holdMsg]) error
		cause error // also matched, besides ErrNoReply
	}{
		{"crash", func(_ *supervisor.Supervisor, ref Ref[holdMsg]) error { return ref.Send(endReq{errBoom}) }, errBoom},
		{"panic", func(_ *supervisor.Supervisor, ref Ref[holdMsg]) error { return ref.Send(endReq{}) }, nil},
		{"shutdown", func(_ *supervisor.Supervisor, ref Ref[holdMsg]) error {
			return ref.Send(endReq{supervisor.ErrShutdown})
		}, supervisor.ErrShutdown},
		{"group restart", func(_ *supervisor.Supervisor, _ Ref[holdMsg]) error {
			return sib.Send(struct{}{}) // a sibling crashes: OneForAll restarts both
		}, nil},
		{"terminate", func(sup *supervisor.Supervisor, _ Ref[holdMsg]) error { return sup.TerminateChild("holder") }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sup := newSup(t, supervisor.OneForAll, supervisor.WithIntensity(100, 1))
				ref, err := Spawn(sup, "holder", func() Actor[holdMsg] { return &holder{} })
				if err != nil {
					t.Fatal(err)
				}
				sib, err = Spawn(sup, "sibling", func() Actor[struct{}] {
					return Func[struct{}](func(*Context[struct{}], struct{}) error { return errBoom })
				})
				if err != nil {
					t.Fatal(err)
				}
				errs := make(chan error, 2)
				for range 2 { // one behind the pointer, one in the slice
					go func() {
						ctx, cancel := context.WithTimeout(context.Background(), askPatience)
						defer cancel()
						_, err := Ask(ctx, ref, func(r Reply[string]) holdMsg { return holdReq{r} })
						errs <- err
					}()
					synctest.Wait() // held
				}
				start := time.Now()
				if err := tc.end(sup, ref); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					err := <-errs
					if !errors.Is(err, ErrNoReply) || tc.cause != nil && !errors.Is(err, tc.cause) {
						t.Errorf("Ask held by an incarnation that ended = %v, want ErrNoReply (and %v)", err, tc.cause)
					}
				}
				if d := time.Since(start); d != 0 {
					t.Errorf("the Asks failed after %v, want at once", d)
				}
			})
		})
	}
}

// What PostStop answers is the answer: a held Reply is lost only if
// nothing has answered it by the end of the incarnation.
func TestAskHeldReplyAnsweredInPostStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne)
		ref, err := Spawn(sup, "holder", func() Actor[holdMsg] { return &holder{answerAtStop: true} })
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			v, err := Ask(context.Background(), ref, func(r Reply[string]) holdMsg { return holdReq{r} })
			if err != nil {
				v = err.Error()
			}
			got <- v
		}()
		synctest.Wait()
		if err := sup.TerminateChild("holder"); err != nil {
			t.Fatal(err)
		}
		if v := <-got; v != "answered at stop" {
			t.Fatalf("Ask = %q, want PostStop's answer", v)
		}
	})
}

// The search for Replies in a lost request, or in an ended actor's state,
// used to follow a Ref into the other actor's mailbox and fail the requests
// queued there, which nothing had lost. It now stops at Refs (and any
// other value of the library that leads to actors).
func TestRegressionLostRequestDoesNotFailRequestsOfActorsItNames(t *testing.T) {
	type fwdReq struct {
		next  Ref[echoReq]
		reply Reply[string]
	}
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		sup := newSup(t, supervisor.OneForOne)
		// busy is held in Receive by gate, with a request queued behind.
		busy, err := Spawn(sup, "busy", func() Actor[echoReq] {
			return Func[echoReq](func(_ *Context[echoReq], m echoReq) error {
				if m.s == "wait" {
					<-gate
				}
				m.reply.Send(m.s)
				return nil
			})
		}, WithMailbox(Bounded(4, Block)))
		if err != nil {
			t.Fatal(err)
		}
		// front drops every request but the first, which it blocks on.
		front, err := Spawn(sup, "front", func() Actor[fwdReq] {
			return Func[fwdReq](func(_ *Context[fwdReq], m fwdReq) error {
				<-gate
				return nil
			})
		}, WithMailbox(Bounded(1, DropNewest)))
		if err != nil {
			t.Fatal(err)
		}
		_ = busy.Send(echoReq{s: "wait"})
		_ = front.Send(fwdReq{})
		synctest.Wait()          // both in Receive
		_ = front.Send(fwdReq{}) // fills front's one slot
		queued := make(chan error, 1)
		go func() {
			_, err := Ask(context.Background(), busy, func(r Reply[string]) echoReq { return echoReq{"queued", r} })
			queued <- err
		}()
		synctest.Wait()
		_, err = askNow(t, front, func(r Reply[string]) fwdReq { return fwdReq{busy, r} })
		if !errors.Is(err, ErrMailboxFull) {
			t.Fatalf("Ask of a dropped request = %v, want ErrMailboxFull", err)
		}
		close(gate)
		if err := <-queued; err != nil {
			t.Fatalf("the request queued at the named actor failed: %v", err)
		}
	})
}
