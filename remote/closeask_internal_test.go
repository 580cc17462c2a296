package remote

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
)

// askMsg is a request that carries its Reply.
type askMsg struct {
	Reply actor.Reply[int]
}

// encodeHook is JSON whose Encode calls hook first.
type encodeHook[M any] struct {
	JSON[M]
	hook func()
}

func (c encodeHook[M]) Encode(m M) ([]byte, error) {
	c.hook()
	return c.JSON.Encode(m)
}

// A remote Ask encoded while its node closed, after Close had failed the
// Asks waiting on answers, registered its answer slot all the same: no
// answer could come (the inbox goes), and nothing swept the table any
// more, so the slot kept the closed node (and the Ask's answer) for good.
// Such a Reply is now refused with ErrClosed; the Ask fails at once (its
// stand-in stops with the node) either way.
func TestRegressionAskEncodedDuringCloseIsRefused(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	a, err := Start(ctx, "a", quietSystem(t), WithListen("127.0.0.1:0"), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close(ctx) }()
	sysB := quietSystem(t)
	b, err := Start(ctx, "b", sysB, WithURL(a.ClientURL()), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close(ctx) }()
	var mu sync.Mutex
	var held []actor.Reply[int] // never answered
	holder, err := actor.SpawnIn(sysB, "holder", func() actor.Actor[askMsg] {
		return actor.Func[askMsg](func(_ *actor.Context[askMsg], m askMsg) error {
			mu.Lock()
			held = append(held, m.Reply)
			mu.Unlock()
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Expose(b, holder, Codec[askMsg](JSON[askMsg]{})); err != nil {
		t.Fatal(err)
	}

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	codec := encodeHook[askMsg]{hook: func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ref, err := Lookup[askMsg](lctx, a, "b", "holder", Codec[askMsg](codec))
	if err != nil {
		t.Fatal(err)
	}
	asked := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := actor.Ask(actx, ref, func(r actor.Reply[int]) askMsg { return askMsg{Reply: r} })
		asked <- err
	}()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- a.Close(ctx) }()
	for shut := false; !shut; { // Close has failed the Asks under way
		a.workMu.Lock()
		shut = a.workShut
		a.workMu.Unlock()
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if c := pendingCount(a); c != 0 {
		t.Errorf("%d answer slots of the closed node left", c)
	}
	if err := <-asked; err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the Ask encoded during Close: %v, want a failure at once", err)
	}
}
