package supervisor

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gateChild starts at once the first time, and from its second Start on
// waits until open is closed: it holds its supervisor's next run in its
// start, after the run has begun.
type gateChild struct {
	starts *int
	mu     *sync.Mutex
	open   chan struct{}
}

func (g gateChild) Start(context.Context) error {
	g.mu.Lock()
	*g.starts++
	n := *g.starts
	g.mu.Unlock()
	if n > 1 {
		<-g.open
	}
	return nil
}

func (gateChild) Serve(ctx context.Context) error { <-ctx.Done(); return nil }

// TestRegressionReaperOfAnEndedRunReadsNoSupervisorField: a lane reaper
// may outlive its run (it runs Dispose hooks), and when it then found only
// exits that the shutdown had taken from the lane (nothing to emit), it
// still asked whether anyone listened to events, reading the supervisor's
// parent, which the supervisor's next run (its parent restarting it)
// writes: a data race. The reaper is held in a Dispose hook while more lane
// children end and the parent restarts the supervisor, so that the exits
// it finds next are all taken; nothing orders its reads after the next
// run's begin, and -race reports any such read.
func TestRegressionReaperOfAnEndedRunReadsNoSupervisorField(t *testing.T) {
	r := newRig()
	root := New("root", OneForAll, Permanent, quiet)
	sub := New("sub", OneForOne, Permanent)
	mustAdd(root, r.spec("w", Permanent))
	var starts int
	var mu sync.Mutex
	gate := gateChild{starts: &starts, mu: &mu, open: make(chan struct{})}
	mustAdd(sub, Spec{Name: "gate", New: func() Child { return gate }})
	mustAddSupervisor(root, sub)
	mustStart(t, root)

	inHook, release := make(chan struct{}), make(chan struct{})
	first := &oneJob{done: make(chan error, 1)}
	if err := sub.StartChild(Spec{Name: "first", Restart: Temporary, New: func() Child { return first },
		Dispose: func(error) { close(inHook); <-release }}); err != nil {
		t.Fatal(err)
	}
	const more = 5
	jobs := make([]*oneJob, more)
	for i := range jobs {
		jobs[i] = &oneJob{done: make(chan error, 1)}
		if err := sub.StartChild(Spec{Name: fmt.Sprint("job-", i), Restart: Temporary,
			New: func() Child { return jobs[i] }}); err != nil {
			t.Fatal(err)
		}
	}
	sub.mu.Lock()
	old := sub.run
	sub.mu.Unlock()

	first.done <- nil
	<-inHook // the reaper runs first's Dispose hook, and waits there
	for _, j := range jobs {
		j.done <- nil
	}
	until(t, "the exits wait for the reaper", func() bool {
		n := 0
		for d := old.dead.Load(); d != nil; d = d.next {
			n++
		}
		return n == more
	})
	oldDone := sub.Done()
	r.crash("w", errBoom) // root restarts sub: its shutdown takes the exits from the lane
	<-oldDone
	close(release) // the reaper goes on, alongside sub's next run
	until(t, "the reaper is done", func() bool { return !old.reaping.Load() })
	close(gate.open)
	mustStop(t, root)
}

// until waits for cond, polling: for states that no channel announces.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
