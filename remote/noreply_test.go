package remote_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

// A remote child whose Receive stops its incarnation with
// supervisor.ErrShutdown while holding a request used to leave the Ask on
// the declaring node waiting for its ctx (the Permanent child is started
// again, so nothing else fails it). The hosting node now fails the Reply
// as the incarnation ends, and the answer crosses back as the error's
// text: the Ask fails long before its ctx, with "actor ended without
// replying". (Only the text crosses nodes: errors.Is(err,
// actor.ErrNoReply) holds for local actors only.)
func TestRegressionRemoteAskFailsWhenTheChildStopsWithTheRequest(t *testing.T) {
	a, b, _, _ := pair(t)
	for _, n := range []*remote.Node{a, b} {
		if err := remote.Register(n, "counter", counterKind(n.Name(), nil), remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "b's kind known to a", func() bool {
		for _, m := range a.Nodes() {
			if m.Name == "b" && len(m.Kinds) > 0 {
				return true
			}
		}
		return false
	})
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, a, "q", "counter", remote.On("b"), actor.WithStartTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = actor.Ask(ctx, ref, func(r actor.Reply[int]) Msg { return Msg{Op: "stop", Reply: r} })
	var re *remote.RemoteError
	if !errors.As(err, &re) || re.Node != "b" || !strings.Contains(re.Text, actor.ErrNoReply.Error()) {
		t.Fatalf("Ask of a request whose remote Receive stopped the child = %v, want b's ErrNoReply text", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("the Ask failed after %v", d)
	}
	if got := get(t, ref); got != 0 {
		t.Fatalf("the restarted child answers %d, want 0", got)
	}
}
