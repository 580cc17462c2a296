package observe

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
)

func TestNewForSystem(t *testing.T) {
	if _, err := NewForSystem(nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("nil system: %v", err)
	}
	sys := actor.NewSystem("shop")
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sys.Shutdown(context.Background()) }()
	got := make(chan string, 1)
	ref, err := actor.SpawnIn(sys, "orders", func() actor.Actor[string] {
		return actor.Func[string](func(c *actor.Context[string], m string) error { got <- m; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send("hello")
	<-got
	// Receive signalled before it returned; the message counts as
	// processed only once it has (the snapshot reads the same counter).
	for deadline := time.Now().Add(10 * time.Second); ref.Stats().Processed != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("processed %d", ref.Stats().Processed)
		}
	}
	o, err := NewForSystem(sys)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	snap := o.Snapshot()
	if len(snap.Root.Children) != 1 {
		t.Fatalf("children %+v", snap.Root.Children)
	}
	c := snap.Root.Children[0]
	if c.Kind != KindActor || c.Actor == nil || c.Actor.Processed != 1 {
		t.Fatalf("%+v", c)
	}
}
