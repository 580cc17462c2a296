package actor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airssys/rt/supervisor"
)

// A request/reply protocol: an interface of message structs.
type calcMsg interface{ isCalc() }

type add struct {
	a, b  int
	reply Reply[int]
}

type divide struct {
	a, b  int
	reply Reply[int]
}

type hold struct{ reply Reply[int] } // never answered

type quit struct{ reply Reply[int] } // the actor stops for good, holding the reply

func (add) isCalc()    {}
func (divide) isCalc() {}
func (hold) isCalc()   {}
func (quit) isCalc()   {}

var errDivByZero = errors.New("division by zero")

func calculator() Actor[calcMsg] {
	return Func[calcMsg](func(_ *Context[calcMsg], m calcMsg) error {
		switch m := m.(type) {
		case add:
			m.reply.Send(m.a + m.b)
			m.reply.Send(-1) // ignored: only the first answer counts
		case divide:
			if m.b == 0 {
				m.reply.Fail(errDivByZero)
				return nil
			}
			m.reply.Send(m.a / m.b)
		case quit:
			return supervisor.ErrShutdown
		}
		return nil
	})
}

func spawnCalc(t *testing.T, opts ...Option) Ref[calcMsg] {
	t.Helper()
	sup := newSup(t, supervisor.OneForOne)
	ref, err := Spawn(sup, "calc", calculator, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestAskSuccessAndFailure(t *testing.T) {
	calc := spawnCalc(t)
	ctx := context.Background()
	sum, err := Ask(ctx, calc, func(r Reply[int]) calcMsg { return add{2, 3, r} })
	if err != nil || sum != 5 {
		t.Fatalf("add: %d, %v", sum, err)
	}
	_, err = Ask(ctx, calc, func(r Reply[int]) calcMsg { return divide{1, 0, r} })
	if !errors.Is(err, errDivByZero) {
		t.Fatalf("divide by zero: %v", err)
	}
}

func TestAskTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calc := spawnCalc(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := Ask(ctx, calc, func(r Reply[int]) calcMsg { return hold{r} })
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 2*time.Second {
			t.Fatalf("Ask: %v after %v", err, time.Since(start))
		}
	})
}

func TestAskTargetStopsHoldingTheReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calc := spawnCalc(t, WithRestart(supervisor.Temporary))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		start := time.Now()
		_, err := Ask(ctx, calc, func(r Reply[int]) calcMsg { return quit{r} })
		if !errors.Is(err, ErrStopped) || time.Since(start) != 0 {
			t.Fatalf("Ask: %v after %v", err, time.Since(start))
		}
	})
}

func TestAskSendFails(t *testing.T) {
	g := spawnGated(t, WithMailbox(Bounded(1, Fail)))
	_ = g.ref.Send(1)
	_, err := Ask(context.Background(), g.ref, func(Reply[int]) int { return 2 })
	if !errors.Is(err, ErrMailboxFull) {
		t.Fatalf("Ask on a full mailbox: %v", err)
	}
	close(g.release)
}

func TestAskStoppedTarget(t *testing.T) {
	calc := spawnCalc(t, WithRestart(supervisor.Temporary))
	_ = calc.Send(quit{})
	<-calc.Done()
	_, err := Ask(context.Background(), calc, func(r Reply[int]) calcMsg { return add{1, 1, r} })
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("Ask: %v", err)
	}
}

func TestAskContextDoneAlready(t *testing.T) {
	calc := spawnCalc(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	built := false
	_, err := Ask(ctx, calc, func(r Reply[int]) calcMsg { built = true; return add{1, 1, r} })
	if !errors.Is(err, context.Canceled) || built {
		t.Fatalf("Ask: %v (request built: %v)", err, built)
	}
	if calc.Stats().Processed != 0 {
		t.Fatal("sent although ctx was done")
	}
}

func TestAskNilBuild(t *testing.T) {
	calc := spawnCalc(t)
	if _, err := Ask[calcMsg, int](context.Background(), calc, nil); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("Ask: %v", err)
	}
}

func TestAskAnsweredLater(t *testing.T) {
	// The actor keeps the Reply and answers from another goroutine.
	sup := newSup(t, supervisor.OneForOne)
	ref, _ := Spawn(sup, "deferred", func() Actor[Reply[string]] {
		return Func[Reply[string]](func(_ *Context[Reply[string]], r Reply[string]) error {
			go r.Send("later")
			return nil
		})
	})
	got, err := Ask(context.Background(), ref, func(r Reply[string]) Reply[string] { return r })
	if err != nil || got != "later" {
		t.Fatalf("Ask: %q, %v", got, err)
	}
}

func TestZeroReplyIgnoresAnswers(t *testing.T) {
	var r Reply[int]
	r.Send(1)
	r.Fail(errBoom)
}

func TestReplyFailNil(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	ref, _ := Spawn(sup, "r", func() Actor[Reply[int]] {
		return Func[Reply[int]](func(_ *Context[Reply[int]], r Reply[int]) error { r.Fail(nil); return nil })
	})
	if _, err := Ask(context.Background(), ref, func(r Reply[int]) Reply[int] { return r }); err == nil {
		t.Fatal("Fail(nil) read as success")
	}
}
