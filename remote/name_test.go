package remote_test

import (
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

// askName asks a counter for the name its Context gives.
func askName(t *testing.T, ref actor.Ref[Msg]) string {
	t.Helper()
	v, err := actor.Ask(ctxT(t, 5*time.Second), ref, func(r actor.Reply[string]) Msg { return Msg{Op: "name", Who: r} })
	if err != nil {
		t.Fatalf("ask name: %v", err)
	}
	return v
}

// A remote child's own code sees the name its owner gave it, on its own
// node and on another, before and after a restart; it used to see the
// internal name of its incarnation ("hosted:owner:name#id").
func TestRegressionHostedChildKnowsItsName(t *testing.T) {
	cl := startCluster(t)
	registerAll(t, cl, nil)
	a := cl.nodes[0]
	sup, _ := newSup(t, supervisor.OneForOne)
	local, err := remote.Spawn[Msg](sup, a, "here", "counter", remote.Local())
	if err != nil {
		t.Fatal(err)
	}
	far, err := remote.Spawn[Msg](sup, a, "there", "counter", remote.On("b"))
	if err != nil {
		t.Fatal(err)
	}
	if got := askName(t, local); got != "here" {
		t.Fatalf("local child's Context.Name() = %q, want %q", got, "here")
	}
	if got := askName(t, far); got != "there" {
		t.Fatalf("child on b: Context.Name() = %q, want %q", got, "there")
	}
	if err := far.Send(Msg{Op: "crash"}); err != nil {
		t.Fatal(err)
	}
	waitRestarts(t, sup, "there", 1)
	if got := askName(t, far); got != "there" {
		t.Fatalf("child on b after a restart: Context.Name() = %q, want %q", got, "there")
	}
}
