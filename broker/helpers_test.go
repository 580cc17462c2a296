package broker_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/broker"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startSystem starts a System whose logs go nowhere; it is shut down when
// the test ends.
func startSystem(t *testing.T) *actor.System {
	t.Helper()
	sys := actor.NewSystem("test", actor.WithSystemLogger(slog.New(slog.DiscardHandler)))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return sys
}

// recorder keeps what an actor receives. gate, when not nil, holds every
// Receive until it is closed (or the incarnation is stopped), which is how
// tests fill a mailbox.
type recorder[T any] struct {
	gate chan struct{}
	mu   sync.Mutex
	got  []T
}

func (r *recorder[T]) Receive(c *actor.Context[T], msg T) error {
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-c.Context().Done():
		}
	}
	r.mu.Lock()
	r.got = append(r.got, msg)
	r.mu.Unlock()
	return nil
}

func (r *recorder[T]) messages() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// spawnRecorder spawns an actor that records its messages into the
// returned recorder, which survives restarts.
func spawnRecorder[T any](t *testing.T, sys *actor.System, name string, gate chan struct{}, opts ...actor.Option) (actor.Ref[T], *recorder[T]) {
	t.Helper()
	rec := &recorder[T]{gate: gate}
	ref, err := actor.SpawnIn(sys, name, func() actor.Actor[T] { return rec }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ref, rec
}

func mustOpen[T any](t *testing.T, b *broker.Broker, name string) *broker.Topic[T] {
	t.Helper()
	topic, err := broker.Open[T](b, name)
	if err != nil {
		t.Fatal(err)
	}
	return topic
}

func mustSubscribe[T any](t *testing.T, topic *broker.Topic[T], ref actor.Ref[T]) *broker.Subscription {
	t.Helper()
	sub, err := topic.Subscribe(ref)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
