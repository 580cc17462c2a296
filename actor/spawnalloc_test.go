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
