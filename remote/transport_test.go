package remote_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/broker"
	"github.com/airssys/rt/internal/natstest"
	"github.com/airssys/rt/remote"
)

type Price struct {
	Sym string
	Px  int
}

// A broker topic opened remotely on two nodes: every subscriber on every
// node, the publisher's own included, gets each message once, in order.
// The topic name has characters NATS subjects give a meaning to.
func TestTransportAcrossNodes(t *testing.T) {
	nc := natstest.Start(t, 2)
	sysA, sysB := startSystem(t, "a"), startSystem(t, "b")
	a := startNode(t, "a", sysA, remote.WithURL(nc.URL(0)))
	b := startNode(t, "b", sysB, remote.WithURL(nc.URL(1)))
	const topic = "prices.eur > *"

	type got struct {
		mu  sync.Mutex
		pxs []int
	}
	sink := func(sys *actor.System, name string, g *got) actor.Ref[Price] {
		ref, err := actor.SpawnIn(sys, name, func() actor.Actor[Price] {
			return actor.Func[Price](func(_ *actor.Context[Price], p Price) error {
				g.mu.Lock()
				g.pxs = append(g.pxs, p.Px)
				g.mu.Unlock()
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	var onA, onB got
	brA := broker.New(broker.WithTransport(a.Transport()))
	brB := broker.New(broker.WithTransport(b.Transport()))
	t.Cleanup(func() { _ = brA.Close(); _ = brB.Close() })
	// b's side first: its subscription (made when the topic opens) must
	// be known on s0 before a publishes there, and a's own would satisfy
	// a check for interest on s0.
	tB, err := broker.OpenRemote(brB, topic, broker.JSON[Price]{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tB.Subscribe(sink(sysB, "sink-b", &onB)); err != nil {
		t.Fatal(err)
	}
	nc.WaitInterest(0, "airssys.default.t.prices%2Eeur%20%3E%20%2A")
	tA, err := broker.OpenRemote(brA, topic, broker.JSON[Price]{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tA.Subscribe(sink(sysA, "sink-a", &onA)); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if err := tA.Publish(context.Background(), Price{Sym: "X", Px: i}); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []*got{&onA, &onB} {
		waitFor(t, 10*time.Second, "all prices", func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return len(g.pxs) >= n
		})
		g.mu.Lock()
		if len(g.pxs) != n {
			t.Fatalf("got %d prices, want %d", len(g.pxs), n)
		}
		for i, px := range g.pxs {
			if px != i {
				t.Fatalf("price %d is %d: out of order", i, px)
			}
		}
		g.mu.Unlock()
	}
}
