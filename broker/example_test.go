package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/broker"
)

// Order is what the examples publish.
type Order struct {
	ID   int
	Item string
}

// auditMsg is the message type of the audit actor: the orders it hears of,
// and a question about them. A sealed interface makes the sum.
type auditMsg interface{ isAuditMsg() }

type orderPlaced struct{ Order }

type itemsQuery struct{ reply actor.Reply[map[string]int] }

func (orderPlaced) isAuditMsg() {}
func (itemsQuery) isAuditMsg()  {}

// auditor counts the items ordered.
type auditor struct{ items map[string]int }

func (a *auditor) Receive(_ *actor.Context[auditMsg], msg auditMsg) error {
	switch m := msg.(type) {
	case orderPlaced:
		a.items[m.Item]++
	case itemsQuery:
		m.reply.Send(maps.Clone(a.items)) // a copy: the map stays this actor's
	}
	return nil
}

// newSystem starts a System that logs nothing, for the examples.
func newSystem(ctx context.Context) *actor.System {
	sys := actor.NewSystem("shop", actor.WithSystemLogger(slog.New(slog.DiscardHandler)))
	if err := sys.Start(ctx); err != nil {
		panic(err)
	}
	return sys
}

// An actor that takes several kinds of message subscribes to a topic of one
// of them through an adapter.
func Example() {
	ctx := context.Background()
	sys := newSystem(ctx)
	defer sys.Shutdown(ctx)

	b := broker.New()
	orders, err := broker.Open[Order](b, "orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	audit, err := actor.SpawnIn(sys, "audit", func() actor.Actor[auditMsg] {
		return &auditor{items: map[string]int{}}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := broker.Subscribe(orders, audit, func(o Order) auditMsg { return orderPlaced{o} }); err != nil {
		fmt.Println(err)
		return
	}

	for i, item := range []string{"tea", "cake", "tea"} {
		if err := orders.Publish(ctx, Order{ID: i + 1, Item: item}); err != nil {
			fmt.Println(err)
		}
	}
	// The question queues behind the orders, so the answer counts them all.
	items, err := actor.Ask(ctx, audit, func(r actor.Reply[map[string]int]) auditMsg { return itemsQuery{r} })
	fmt.Println(items, err)
	fmt.Printf("%+v\n", orders.Stats())
	// Output:
	// map[cake:1 tea:2] <nil>
	// {Name:orders Remote:false Subscribers:1 Published:3 Delivered:3 Dropped:0 Malformed:0}
}

// A subscriber with a full Block mailbox holds Publish up, but only until
// the publisher's deadline.
func ExampleTopic_Publish_slowSubscriber() {
	ctx := context.Background()
	sys := newSystem(ctx)
	defer sys.Shutdown(ctx)

	busy, release := make(chan int, 2), make(chan struct{})
	defer close(release)
	slow, _ := actor.SpawnIn(sys, "slow", func() actor.Actor[int] {
		return actor.Func[int](func(_ *actor.Context[int], n int) error {
			busy <- n
			<-release
			return nil
		})
	}, actor.WithMailbox(actor.Bounded(1, actor.Block)))

	ticks, _ := broker.Open[int](broker.New(), "ticks")
	_, _ = ticks.Subscribe(slow)
	_ = ticks.Publish(ctx, 1)
	<-busy                    // slow is handling 1...
	_ = ticks.Publish(ctx, 2) // ...2 waits in its mailbox, which is now full

	deadline, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err := ticks.Publish(deadline, 3)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	fmt.Println(err)
	// Output:
	// true
	// broker: topic "ticks": 1 of 1 subscribers not reached: actor "slow": send: context deadline exceeded
}

// A topic name has one message type.
func ExampleOpen_wrongType() {
	b := broker.New()
	if _, err := broker.Open[float64](b, "temperature"); err != nil {
		fmt.Println(err)
	}
	_, err := broker.Open[string](b, "temperature")
	fmt.Println(errors.Is(err, broker.ErrWrongType))
	fmt.Println(err)
	// Output:
	// true
	// broker: topic "temperature" carries float64, not string: topic has another message type
}

// Price is what the remote example publishes.
type Price struct {
	Symbol string
	Cents  int
}

// Two Brokers on one transport stand for two processes: what either
// publishes on a remote topic reaches the subscribers of both. With NATS
// instead of MemoryTransport, the code is the same.
func ExampleOpenRemote() {
	ctx := context.Background()
	sys := newSystem(ctx)
	defer sys.Shutdown(ctx)

	tr := broker.NewMemoryTransport()
	london := broker.New(broker.WithTransport(tr))
	tokyo := broker.New(broker.WithTransport(tr))
	defer london.Close()
	defer tokyo.Close()

	londonPrices, err := broker.OpenRemote(london, "prices", broker.JSON[Price]{})
	if err != nil {
		fmt.Println(err)
		return
	}
	tokyoPrices, err := broker.OpenRemote(tokyo, "prices", broker.JSON[Price]{})
	if err != nil {
		fmt.Println(err)
		return
	}

	got := make(chan Price, 1)
	desk, _ := actor.SpawnIn(sys, "tokyo-desk", func() actor.Actor[Price] {
		return actor.Func[Price](func(_ *actor.Context[Price], p Price) error {
			got <- p
			return nil
		})
	})
	_, _ = tokyoPrices.Subscribe(desk)

	if err := londonPrices.Publish(ctx, Price{Symbol: "ACME", Cents: 10150}); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("tokyo-desk got %+v\n", <-got)
	// Output:
	// tokyo-desk got {Symbol:ACME Cents:10150}
}
