package actor

import (
	"context"
	"strconv"
	"testing"

	"github.com/airssys/rt/supervisor"
)

// TestRegressionSpawnInAllocatesTheCellAndTheChildRecord checks what a
// spawn on the root's lane allocates: the actor's cell and the
// supervisor's record of the child, nothing more. The Spec used to cross
// into the supervisor as a *Spec through a function variable, which moved
// every spawn's 144-byte Spec to the heap: a third allocation per actor
// (issue 10: spawn + 1 message + stop).
func TestRegressionSpawnInAllocatesTheCellAndTheChildRecord(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())
	const runs = 2000
	names := make([]string, runs+1) // AllocsPerRun runs its function once more to warm up
	for i := range names {
		names[i] = "a" + strconv.Itoa(i)
	}
	factory := func() Actor[int] { return Func[int](func(*Context[int], int) error { return nil }) }
	opts := []Option{WithRestart(supervisor.Temporary)}
	for i := range 100 { // the name table's first growth
		if _, err := SpawnIn(sys, "warm"+strconv.Itoa(i), factory, opts...); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := SpawnIn(sys, names[i], factory, opts...); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs > 2 {
		t.Errorf("a spawn on the lane allocated %v objects; want 2 (the cell, the child record)", allocs)
	}
}

// TestRegressionStoppedActorKeepsNoChildRecord: a Ref keeps its actor's
// cell alive, and the cell kept its first incarnation's context, which is
// the supervisor's record of the child (160 bytes), for as long as the
// Ref lived: a program keeping the Refs of many stopped actors kept every
// record (issue 10, spawn + 1 message + stop: 486 B held per stopped
// actor, 348 without the record). Once the actor has stopped for good, the
// cell holds a context that is cancelled and has the tree's values but
// nothing of the record; an actor that asked for its context keeps the one
// it was given.
func TestRegressionStoppedActorKeepsNoChildRecord(t *testing.T) {
	type key struct{}
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if err := sys.Start(context.WithValue(context.Background(), key{}, "v")); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())
	for _, asked := range []bool{false, true} {
		var given context.Context
		ref, err := SpawnIn(sys, "a"+strconv.FormatBool(asked), func() Actor[int] {
			return Func[int](func(cx *Context[int], _ int) error {
				given = cx.ctx
				if asked {
					_ = cx.Context()
				}
				return supervisor.ErrShutdown
			})
		}, WithRestart(supervisor.Temporary))
		if err != nil {
			t.Fatal(err)
		}
		_ = ref.Send(1)
		<-ref.Done()
		c := ref.c
		c.mu.Lock()
		kept := c.inc0.cx.ctx
		c.mu.Unlock()
		switch {
		case asked && kept != given:
			t.Errorf("an actor that asked for its context: the cell's is now %v, want the one it was given", kept)
		case !asked && kept == given:
			t.Errorf("a stopped actor's cell still holds its incarnation's context (the supervisor's child record)")
		case !asked && (kept.Err() != context.Canceled || kept.Value(key{}) != "v"):
			t.Errorf("the stopped actor's context: Err %v, value %v; want context.Canceled and the tree's value", kept.Err(), kept.Value(key{}))
		}
		select {
		case <-kept.Done():
		default:
			t.Errorf("asked %v: the stopped actor's context is not done", asked)
		}
	}
}
