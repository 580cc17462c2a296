package remote_test

import (
	"errors"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

// pair starts two nodes on one embedded server: "a" runs it (listening on
// loopback), "b" joins it; both see each other up when it returns.
func pair(t *testing.T) (a, b *remote.Node, sa, sb *actor.System) {
	t.Helper()
	sa, sb = startSystem(t, "sys-a"), startSystem(t, "sys-b")
	a = startNode(t, "a", sa, remote.WithListen("127.0.0.1:0"))
	b = startNode(t, "b", sb, remote.WithURL(a.ClientURL()))
	waitFor(t, 10*time.Second, "membership", func() bool { return len(a.Nodes()) == 1 && len(b.Nodes()) == 1 })
	return a, b, sa, sb
}

// gated crashes on "crash" only once the test opens its gate, so that the
// messages sent after it are queued behind it on the hosting node.
type gated struct {
	started chan<- struct{}
	gate    <-chan struct{}
}

func (g gated) Receive(_ *actor.Context[Msg], m Msg) error {
	switch m.Op {
	case "crash":
		g.started <- struct{}{}
		<-g.gate
		return errors.New("told to crash")
	case "get":
		m.Reply.Send(42)
	}
	return nil
}

// An Ask queued on the hosting node behind a message that crashes the
// remote child is not lost: the owner requeues it for the next incarnation,
// which answers it. It used to fail with "request lost: stopped: still
// queued when the actor stopped" while the next incarnation handled it.
func TestRegressionAskQueuedBehindRemoteCrashIsAnswered(t *testing.T) {
	a, b, _, _ := pair(t)
	started := make(chan struct{}, 4)
	gate := make(chan struct{})
	newGated := func() actor.Actor[Msg] { return gated{started: started, gate: gate} }
	for _, n := range []*remote.Node{a, b} { // the owner needs the kind's codec
		if err := remote.Register(n, "gated", newGated, remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "kind known", func() bool { return len(b.Nodes()) == 1 && len(b.Nodes()[0].Kinds) == 1 })
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, b, "g", "gated", remote.On("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Send(Msg{Op: "crash"}); err != nil {
		t.Fatal(err)
	}
	<-started
	received := a.Metrics().Received
	type answer struct {
		v   int
		err error
	}
	got := make(chan answer, 1)
	go func() {
		v, err := actor.Ask(ctxT(t, 10*time.Second), ref, func(r actor.Reply[int]) Msg { return Msg{Op: "get", Reply: r} })
		got <- answer{v, err}
	}()
	// The request is on the hosting node, queued behind the crash.
	waitFor(t, 5*time.Second, "the request on node a", func() bool { return a.Metrics().Received > received })
	close(gate)
	if r := <-got; r.err != nil || r.v != 42 {
		t.Fatalf("Ask queued behind a crash: %d, %v; want 42, nil", r.v, r.err)
	}
}
