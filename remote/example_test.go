package remote_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
)

// Greet is the message of the example's kind: a request with a Reply.
type Greet struct {
	Name  string
	Reply actor.Reply[string]
}

// A single machine: the node runs an embedded NATS server with no listener.
// The child is declared under the System's root and placed with Local();
// changing that to On("b") or Any() moves it to another machine without
// touching the code that uses the Ref.
func Example() {
	ctx := context.Background()
	sys := actor.NewSystem("app")
	_ = sys.Start(ctx)
	node, err := remote.Start(ctx, "a", sys)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The tree first, then the node: its children need the node to stop
	// their remote incarnations in order.
	defer node.Close(ctx)
	defer sys.Shutdown(ctx)

	greeter := func() actor.Actor[Greet] {
		return actor.Func[Greet](func(_ *actor.Context[Greet], m Greet) error {
			m.Reply.Send("hello, " + m.Name)
			return nil
		})
	}
	if err := remote.Register(node, "greeter", greeter, remote.JSON[Greet]{}); err != nil {
		fmt.Println(err)
		return
	}
	ref, err := remote.Spawn[Greet](sys.Root(), node, "greeter-1", "greeter", remote.Local())
	if err != nil {
		fmt.Println(err)
		return
	}
	answer, err := actor.Ask(ctx, ref, func(r actor.Reply[string]) Greet { return Greet{Name: "world", Reply: r} })
	fmt.Println(answer, err)
	// Output: hello, world <nil>
}

// Lookup gives a Ref to an actor another node serves; here the node looks
// up its own actor, which returns the local Ref.
func ExampleLookup() {
	ctx := context.Background()
	sys := actor.NewSystem("app")
	_ = sys.Start(ctx)
	node, err := remote.Start(ctx, "a", sys)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close(ctx)
	defer sys.Shutdown(ctx)

	echo, _ := actor.SpawnIn(sys, "echo", func() actor.Actor[string] {
		return actor.Func[string](func(_ *actor.Context[string], s string) error { return nil })
	})
	_ = remote.Expose(node, echo, remote.JSON[string]{})
	ref, err := remote.Lookup(ctx, node, "a", "echo", remote.JSON[string]{})
	fmt.Println(ref == echo, err)
	// No node "b" ever starts: Lookup waits for it while its ctx lets it.
	wait, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := remote.Lookup(wait, node, "b", "echo", remote.JSON[string]{}); err != nil {
		fmt.Println("b:", errors.Is(err, remote.ErrUnknownNode), errors.Is(err, context.DeadlineExceeded))
	}
	// Output:
	// true <nil>
	// b: true true
}

// Two nodes in one process, as two machines would run: "a" runs the
// embedded NATS server with a loopback listener, "b" joins it by URL and
// registers its kind right after its Start. The child a declares On("b")
// starts at once: a's Spawn waits for b's kinds while they are still
// arriving, as it waits for a node not heard from yet.
func ExampleOn() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	sysA := actor.NewSystem("app-a", actor.WithSystemLogger(quiet))
	sysB := actor.NewSystem("app-b", actor.WithSystemLogger(quiet))
	_ = sysA.Start(ctx)
	_ = sysB.Start(ctx)
	a, err := remote.Start(ctx, "a", sysA, remote.WithListen("127.0.0.1:0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close(ctx) // last: its server carries b's connection
	b, err := remote.Start(ctx, "b", sysB, remote.WithURL(a.ClientURL()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)
	defer sysB.Shutdown(ctx)
	defer sysA.Shutdown(ctx) // first: a's tree stops its child on b while b is there

	// The kind, on both nodes: b runs it, a declares children of it.
	greeter := func(node string) func() actor.Actor[Greet] {
		return func() actor.Actor[Greet] {
			return actor.Func[Greet](func(_ *actor.Context[Greet], m Greet) error {
				m.Reply.Send("hello, " + m.Name + ", from " + node)
				return nil
			})
		}
	}
	_ = remote.Register(b, "greeter", greeter("b"), remote.JSON[Greet]{})
	_ = remote.Register(a, "greeter", greeter("a"), remote.JSON[Greet]{})

	ref, err := remote.Spawn[Greet](sysA.Root(), a, "greeter-1", "greeter", remote.On("b"))
	if err != nil {
		fmt.Println(err)
		return
	}
	answer, err := actor.Ask(ctx, ref, func(r actor.Reply[string]) Greet { return Greet{Name: "world", Reply: r} })
	fmt.Println(answer, err)
	// Output: hello, world, from b <nil>
}
