package remote

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
)

// The regression: a served actor's stop announced while a Lookup of it was
// under way found no stand-in and was dropped, so the Ref that Lookup then
// returned never closed Done. The announcement is injected at the moment
// it would arrive (after the request went out, before the stand-in exists)
// by dating it after the Lookup began.
func TestRegressionStopDuringLookupStopsTheStandIn(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	sysA, sysB := actor.NewSystem("a", actor.WithSystemLogger(quiet)), actor.NewSystem("b", actor.WithSystemLogger(quiet))
	for _, s := range []*actor.System{sysA, sysB} {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown(ctx)
	}
	a, err := Start(ctx, "a", sysA, WithListen("127.0.0.1:0"), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	b, err := Start(ctx, "b", sysB, WithURL(a.ClientURL()), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	ref, _ := actor.SpawnIn(sysB, "x", func() actor.Actor[string] {
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	})
	if err := Expose(b, ref, JSON[string]{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(a.Nodes()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no membership")
		}
		time.Sleep(time.Millisecond)
	}
	a.mu.Lock()
	a.stoppedAt = map[string]time.Time{"b\x00x": time.Now().Add(time.Hour)}
	a.mu.Unlock()
	r, err := Lookup(ctx, a, "b", "x", JSON[string]{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Done():
		if !errors.Is(r.Err(), actor.ErrStopped) {
			t.Fatalf("Err %v", r.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stand-in of a stopped actor did not stop")
	}
}
