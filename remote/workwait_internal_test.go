package remote

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/airssys/rt/actor"
)

// slowHosted is a hosted actor whose first start waits for started, and
// whose stop tells stopping and waits for stopped.
type slowHosted struct {
	entered, started  chan struct{}
	stopping, stopped chan struct{}
}

func (a *slowHosted) PreStart(*actor.Context[string]) error {
	close(a.entered)
	<-a.started
	return nil
}

func (a *slowHosted) Receive(*actor.Context[string], string) error { return nil }

func (a *slowHosted) PostStop(*actor.Context[string]) {
	close(a.stopping)
	<-a.stopped
}

// The regression test of 04942d5 (goWork), which had none: a spawn
// request that arrived after Close had waited for the work under way went
// into the WaitGroup from zero, racing that Wait (-race reported it in
// about half the remote runs). Here Close waits for a spawn under way, then
// stops the incarnation it started (whose PostStop holds Close there),
// and a second spawn request arrives: refused, not counted. It fails under
// -race only (without it both versions answer the request with stFailed).
func TestRegressionSpawnDuringCloseIsNotCounted(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	sys := quietSystem(t)
	a, err := Start(ctx, "a", sys, WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close(ctx) }()
	act := &slowHosted{entered: make(chan struct{}), started: make(chan struct{}),
		stopping: make(chan struct{}), stopped: make(chan struct{})}
	first := true
	if err := Register(a, "slow", func() actor.Actor[string] {
		if first { // the supervisor calls this on its goroutine, once here
			first = false
			return act
		}
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	}, Codec[string](JSON[string]{})); err != nil {
		t.Fatal(err)
	}
	spawn := func(incID string) []byte {
		var w writer
		w.byte(tSpawn)
		w.str("slow")
		w.str("w")
		w.str("owner") // a node that never answers: only the request matters
		w.str(incID)
		w.str(typeName[string]())
		return w.b
	}
	replies := make(chan error, 1)
	go func() {
		_, err := a.nc.Request(a.inboxSj, spawn("owner-1"), 10*time.Second)
		replies <- err
	}()
	select {
	case <-act.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the spawn never started")
	}
	closed := make(chan error, 1)
	go func() { closed <- a.Close(ctx) }()
	for shut := false; !shut; {
		a.workMu.Lock()
		shut = a.workShut
		a.workMu.Unlock()
		time.Sleep(time.Millisecond)
	}
	// Close is in the Wait, or about to be: a few milliseconds more make
	// it the former (sooner, the test cannot fail, never the other way).
	time.Sleep(20 * time.Millisecond)
	// The second request comes from a goroutine that learns nothing of
	// Close's progress (it only sleeps): anything it learned, through a
	// channel, a lock or a socket, would order its Add after the Wait for
	// the race detector, which then reports nothing. The sleep puts it
	// while Close stops the first incarnation.
	late := make(chan *nats.Msg, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		msg, err := a.nc.Request(a.inboxSj, spawn("owner-2"), 10*time.Second)
		if err != nil {
			t.Errorf("the spawn during Close: %v", err)
		}
		late <- msg
	}()
	close(act.started)
	if err := <-replies; err != nil {
		t.Fatalf("the first spawn: %v", err)
	}
	select {
	case <-act.stopping: // Close has waited, and stops what runs
	case <-time.After(10 * time.Second):
		t.Fatal("Close never stopped the hosted incarnation")
	}
	msg := <-late
	close(act.stopped)
	if msg != nil && (len(msg.Data) == 0 || msg.Data[0] != stFailed) {
		t.Errorf("the spawn during Close answered %q, want stFailed", msg.Data)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}
