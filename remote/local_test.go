package remote_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

// Msg is the message type of the tests' kinds: requests carry a Reply.
type Msg struct {
	Op    string              // "add", "get", "crash", "hold", "stop"
	N     int                 `json:",omitempty"`
	Reply actor.Reply[int]    `json:",omitempty"`
	Who   actor.Reply[string] `json:",omitempty"`
}

// counter sums what it is sent; "crash" crashes it, "get" answers the sum,
// "who" answers the node it runs on, "name" the name its Context gives,
// "hold" keeps the request unanswered.
type counter struct {
	node string
	sum  int
	seen *atomic.Int64 // messages begun, over incarnations (shared)
}

func (c *counter) Receive(cx *actor.Context[Msg], m Msg) error {
	if c.seen != nil {
		c.seen.Add(1)
	}
	switch m.Op {
	case "add":
		c.sum += m.N
	case "get":
		m.Reply.Send(c.sum)
	case "who":
		m.Who.Send(c.node)
	case "name":
		m.Who.Send(cx.Name())
	case "crash":
		return fmt.Errorf("boom %d", m.N)
	case "fail":
		m.Reply.Fail(errors.New("refused"))
	case "stop":
		return supervisor.ErrShutdown
	case "panic-shutdown": // a crash, though its value is ErrShutdown
		panic(supervisor.ErrShutdown)
	case "hold":
	}
	return nil
}

func counterKind(node string, seen *atomic.Int64) func() actor.Actor[Msg] {
	return func() actor.Actor[Msg] { return &counter{node: node, seen: seen} }
}

func get(t *testing.T, ref actor.Ref[Msg]) int {
	t.Helper()
	v, err := actor.Ask(ctxT(t, 5*time.Second), ref, func(r actor.Reply[int]) Msg { return Msg{Op: "get", Reply: r} })
	if err != nil {
		t.Fatalf("ask get: %v", err)
	}
	return v
}

func who(t *testing.T, ref actor.Ref[Msg]) string {
	t.Helper()
	v, err := actor.Ask(ctxT(t, 5*time.Second), ref, func(r actor.Reply[string]) Msg { return Msg{Op: "who", Who: r} })
	if err != nil {
		t.Fatalf("ask who: %v", err)
	}
	return v
}

func TestEmbeddedNodeLocalChild(t *testing.T) {
	sys := startSystem(t, "sys")
	n := startNode(t, "solo", sys)
	if err := remote.Register(n, "counter", counterKind("solo", nil), remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	ref, err := remote.Spawn[Msg](sys.Root(), n, "c1", "counter", remote.Local())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		if err := ref.Send(Msg{Op: "add", N: i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, ref); got != 55 {
		t.Fatalf("sum = %d, want 55", got)
	}
	if got := who(t, ref); got != "solo" {
		t.Fatalf("runs on %q", got)
	}
	// Reply.Fail travels as a RemoteError.
	_, err = actor.Ask(ctxT(t, 5*time.Second), ref, func(r actor.Reply[int]) Msg { return Msg{Op: "fail", Reply: r} })
	var re *remote.RemoteError
	if !errors.As(err, &re) || re.Text != "refused" {
		t.Fatalf("ask fail: %v", err)
	}
	// The node serves the child for Lookup, by the same Ref.
	again, err := remote.Lookup(context.Background(), n, "solo", "c1", remote.JSON[Msg]{})
	if err != nil || again != ref {
		t.Fatalf("lookup self: %v %v", again, err)
	}
}

func TestStartErrors(t *testing.T) {
	sys := startSystem(t, "sys")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		sys  *actor.System
		opts []remote.Option
	}{
		{"", sys, nil},
		{"a.b", sys, nil},
		{"a b", sys, nil},
		{"ok", nil, nil},
		{"ok", sys, []remote.Option{remote.WithHeartbeat(0, 3)}},
		{"ok", sys, []remote.Option{remote.WithCluster("x.y")}},
		{"ok", sys, []remote.Option{remote.WithListen("nohost:port:x")}},
	} {
		if n, err := remote.Start(ctx, tc.name, tc.sys, tc.opts...); !errors.Is(err, remote.ErrInvalid) {
			if n != nil {
				_ = n.Close(ctx)
			}
			t.Errorf("Start(%q): %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	sys := startSystem(t, "sys")
	n, err := remote.Start(context.Background(), "x", sys)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := n.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Register(n, "k", counterKind("x", nil), remote.JSON[Msg]{}); !errors.Is(err, remote.ErrClosed) {
		t.Fatalf("register after close: %v", err)
	}
}
