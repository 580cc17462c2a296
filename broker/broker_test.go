package broker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/airssys/rt/broker"
)

func TestOpenReturnsTheSameTopic(t *testing.T) {
	var b broker.Broker // the zero value is ready
	a := mustOpen[int](t, &b, "n")
	again := mustOpen[int](t, &b, "n")
	if a != again {
		t.Error("Open made a second topic for one name")
	}
	mustOpen[string](t, &b, "s")
	if got := b.Topics(); !slices.Equal(got, []string{"n", "s"}) {
		t.Errorf("Topics = %v", got)
	}
	if a.Name() != "n" || a.Remote() {
		t.Errorf("topic %q remote=%v", a.Name(), a.Remote())
	}
}

func TestOpenWrongType(t *testing.T) {
	b := broker.New()
	mustOpen[int](t, b, "numbers")
	_, err := broker.Open[string](b, "numbers")
	if !errors.Is(err, broker.ErrWrongType) {
		t.Fatalf("Open with another type: %v", err)
	}
	if !strings.Contains(err.Error(), "carries int, not string") {
		t.Errorf("error %q does not name both types", err)
	}
	// A named type is another type, even with the same underlying one.
	type celsius int
	if _, err := broker.Open[celsius](b, "numbers"); !errors.Is(err, broker.ErrWrongType) {
		t.Errorf("Open with a named type: %v", err)
	}
}

func TestBrokerBadInput(t *testing.T) {
	if _, err := broker.Open[int](nil, "x"); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("nil Broker: %v", err)
	}
	if _, err := broker.Open[int](broker.New(), ""); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := broker.OpenRemote[int](broker.New(), "x", nil); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("nil codec: %v", err)
	}
	if _, err := broker.OpenRemote(broker.New(), "x", broker.JSON[int]{}); !errors.Is(err, broker.ErrNoTransport) {
		t.Errorf("OpenRemote without a transport: %v", err)
	}
	b := broker.New(nil, broker.WithTransport(broker.NewMemoryTransport()))
	mustOpen[int](t, b, "local")
	if _, err := broker.OpenRemote(b, "local", broker.JSON[int]{}); !errors.Is(err, broker.ErrConflict) {
		t.Errorf("OpenRemote of a local topic: %v", err)
	}
	var tr broker.MemoryTransport
	if err := tr.Publish(nil, "x", nil); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("transport Publish with a nil ctx: %v", err)
	}
	if err := tr.Publish(context.Background(), "", nil); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("transport Publish to an empty topic: %v", err)
	}
	if _, err := tr.Subscribe("", func(context.Context, []byte) {}); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("transport Subscribe to an empty topic: %v", err)
	}
	if _, err := tr.Subscribe("x", nil); !errors.Is(err, broker.ErrInvalid) {
		t.Errorf("transport Subscribe with nil deliver: %v", err)
	}
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		tr := broker.NewMemoryTransport()
		b := broker.New(broker.WithTransport(tr))
		local := mustOpen[int](t, b, "local")
		remote, err := broker.OpenRemote(b, "remote", broker.JSON[int]{})
		if err != nil {
			t.Fatal(err)
		}
		ref, rec := spawnRecorder[int](t, sys, "sub", nil)
		subs := []*broker.Subscription{mustSubscribe(t, local, ref), mustSubscribe(t, remote, ref)}

		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		for _, s := range subs {
			if s.Active() {
				t.Errorf("subscription to %s still active", s.Topic())
			}
		}
		for _, topic := range []*broker.Topic[int]{local, remote} {
			if err := topic.Publish(t.Context(), 1); !errors.Is(err, broker.ErrClosed) {
				t.Errorf("Publish on %s after Close: %v", topic.Name(), err)
			}
			if _, err := topic.Subscribe(ref); !errors.Is(err, broker.ErrClosed) {
				t.Errorf("Subscribe to %s after Close: %v", topic.Name(), err)
			}
		}
		if _, err := broker.Open[int](b, "local"); !errors.Is(err, broker.ErrClosed) {
			t.Errorf("Open after Close: %v", err)
		}
		// The transport subscription went with the topic.
		if err := tr.Publish(t.Context(), "remote", []byte("1")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := rec.messages(); len(got) != 0 {
			t.Errorf("got %v after Close", got)
		}
		if ref.Err() != nil {
			t.Error("Close stopped an actor")
		}
	})
}

// Two Brokers on one MemoryTransport stand for two processes: a message
// published on either reaches the subscribers of both, once.
func TestRemoteTopicAcrossBrokers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type price struct {
			Symbol string
			Cents  int
		}
		sys := startSystem(t)
		tr := broker.NewMemoryTransport()
		nodeA := broker.New(broker.WithTransport(tr))
		nodeB := broker.New(broker.WithTransport(tr))
		defer nodeA.Close()
		defer nodeB.Close()
		onA, err := broker.OpenRemote(nodeA, "prices", broker.JSON[price]{})
		if err != nil {
			t.Fatal(err)
		}
		onB, err := broker.OpenRemote(nodeB, "prices", broker.JSON[price]{})
		if err != nil {
			t.Fatal(err)
		}
		if again, err := broker.Open[price](nodeA, "prices"); err != nil || again != onA {
			t.Errorf("Open of a remote topic = %p, %v; want the remote topic", again, err)
		}
		refA, recA := spawnRecorder[price](t, sys, "a", nil)
		refB, recB := spawnRecorder[price](t, sys, "b", nil)
		mustSubscribe(t, onA, refA)
		mustSubscribe(t, onB, refB)

		if err := onA.Publish(t.Context(), price{"ACME", 101}); err != nil {
			t.Fatal(err)
		}
		if err := onB.Publish(t.Context(), price{"ACME", 102}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		want := []price{{"ACME", 101}, {"ACME", 102}}
		if got := recA.messages(); !slices.Equal(got, want) {
			t.Errorf("node A got %v", got)
		}
		if got := recB.messages(); !slices.Equal(got, want) {
			t.Errorf("node B got %v", got)
		}
		st := onA.Stats()
		if !st.Remote || st.Published != 1 || st.Delivered != 2 {
			t.Errorf("node A stats %+v", st)
		}

		// Garbage on the wire is counted, not delivered.
		if err := tr.Publish(t.Context(), "prices", []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st := onB.Stats(); st.Malformed != 1 || st.Delivered != 2 {
			t.Errorf("node B stats after garbage %+v", st)
		}
	})
}

func TestRemoteEncodeError(t *testing.T) {
	b := broker.New(broker.WithTransport(broker.NewMemoryTransport()))
	topic, err := broker.OpenRemote(b, "funcs", broker.JSON[func()]{})
	if err != nil {
		t.Fatal(err)
	}
	if err := topic.Publish(context.Background(), func() {}); !errors.Is(err, broker.ErrCodec) {
		t.Errorf("Publish of an unencodable message: %v", err)
	}
}

// failingTransport fails what it is told to: its errors reach the caller.
type failingTransport struct{ publish, subscribe error }

var errDown = errors.New("transport down")

func (f failingTransport) Publish(context.Context, string, []byte) error { return f.publish }
func (f failingTransport) Subscribe(string, func(context.Context, []byte)) (func(), error) {
	return func() {}, f.subscribe
}

func TestTransportErrors(t *testing.T) {
	b := broker.New(broker.WithTransport(failingTransport{subscribe: errDown}))
	if _, err := broker.OpenRemote(b, "x", broker.JSON[int]{}); !errors.Is(err, errDown) {
		t.Errorf("OpenRemote over a failing transport: %v", err)
	}
	if got := b.Topics(); len(got) != 0 {
		t.Errorf("a failed OpenRemote left topics %v", got)
	}

	b = broker.New(broker.WithTransport(failingTransport{publish: errDown}))
	topic, err := broker.OpenRemote(b, "x", broker.JSON[int]{})
	if err != nil {
		t.Fatal(err)
	}
	if err := topic.Publish(context.Background(), 1); !errors.Is(err, errDown) {
		t.Errorf("Publish over a failing transport: %v", err)
	}
}

func TestBrokerStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := startSystem(t)
		b := broker.New()
		n := mustOpen[int](t, b, "n")
		s := mustOpen[string](t, b, "s")
		ref, _ := spawnRecorder[int](t, sys, "sub", nil)
		mustSubscribe(t, n, ref)
		_ = n.Publish(t.Context(), 1)
		_ = s.Publish(t.Context(), "x")
		synctest.Wait()
		want := []broker.TopicStats{
			{Name: "n", Subscribers: 1, Published: 1, Delivered: 1},
			{Name: "s", Published: 1},
		}
		if got := b.Stats(); !slices.Equal(got, want) {
			t.Errorf("Stats = %+v, want %+v", got, want)
		}
	})
}
