package remote

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
)

// hookCodec is JSON whose Decode calls hook first: a codec that is slow,
// or blocked, while the node closes.
type hookCodec struct {
	JSON[string]
	hook func()
}

func (c hookCodec) Decode(data []byte) (string, error) {
	c.hook()
	return c.JSON.Decode(data)
}

// A NATS callback under way when Close begins (here the Decode of a served
// actor's codec, on the inbox's goroutine) went on after Close returned:
// neither Unsubscribe nor closing the connection waits for it, so the
// node's code (decoding, delivering to an actor, recording dead letters,
// emitting NodeEvents, and a WaitGroup Add racing Close's Wait on a
// subscriber's) ran after the node was gone. Close now waits for the
// callbacks' goroutines to end. The Decode waits for Close to return, or
// for half a second: if Close returns first, the bug is back (this cannot
// fail when Close waits; without the fix it can only pass by Close taking
// more than half a second).
func TestRegressionCloseWaitsForTheCallbackUnderWay(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	sys := actor.NewSystem("s", actor.WithSystemLogger(quiet))
	if err := sys.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sys.Shutdown(ctx) }()
	a, err := Start(ctx, "a", sys, WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close(ctx) }()
	ref, err := actor.SpawnIn(sys, "x", func() actor.Actor[string] {
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	entered, closed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var closedFirst atomic.Bool
	codec := hookCodec{hook: func() {
		once.Do(func() {
			close(entered)
			select {
			case <-closed:
				closedFirst.Store(true)
			case <-time.After(500 * time.Millisecond):
			}
		})
	}}
	if err := Expose(a, ref, Codec[string](codec)); err != nil {
		t.Fatal(err)
	}
	var w writer
	w.byte(tSend)
	w.str("x")
	w.b = append(w.b, `"hello"`...)
	if err := a.nc.Publish(a.inboxSj, w.b); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the message never reached the codec")
	}
	go func() {
		defer close(closed)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := a.Close(cctx); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	<-closed
	if closedFirst.Load() {
		t.Fatal("Close returned while the inbox's callback (a Decode) was still running")
	}
}
