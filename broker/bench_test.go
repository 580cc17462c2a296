package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/broker"
)

// BenchmarkPublish measures Publish to n idle-draining subscribers, beside
// the same fan-out as a loop of Ref.Send: the broker's own cost is the
// difference.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			refs, stop := sinks(b, n)
			defer stop()
			topic, _ := broker.Open[int](broker.New(), "bench")
			for _, r := range refs {
				if _, err := topic.Subscribe(r); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				_ = topic.Publish(ctx, i)
			}
		})
		b.Run(fmt.Sprintf("baseline-send/subscribers=%d", n), func(b *testing.B) {
			refs, stop := sinks(b, n)
			defer stop()
			for i := 0; b.Loop(); i++ {
				for _, r := range refs {
					_ = r.Send(i)
				}
			}
		})
	}
}

// sinks spawns n actors that discard what they get.
func sinks(b *testing.B, n int) ([]actor.Ref[int], func()) {
	sys := actor.NewSystem("bench", actor.WithSystemLogger(slog.New(slog.DiscardHandler)))
	if err := sys.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	refs := make([]actor.Ref[int], n)
	for i := range refs {
		r, err := actor.SpawnIn(sys, fmt.Sprint("sink-", i), func() actor.Actor[int] {
			return actor.Func[int](func(*actor.Context[int], int) error { return nil })
		})
		if err != nil {
			b.Fatal(err)
		}
		refs[i] = r
	}
	return refs, func() { _ = sys.Shutdown(context.Background()) }
}
