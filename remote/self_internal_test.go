package remote

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
)

// The regression: inside a remote child, Context.Self was the hosted
// incarnation's own cell, so what the child sent itself skipped the owner's
// mailbox and its numbering. Each such message then took the number of an
// owner's message when it began, the owner believed those had begun, and
// after a crash they were neither requeued nor dead letters: lost
// silently. Here the child sends itself three messages and waits while
// three more come from the owner, then crashes on the first of the
// owner's: every message must be received by an incarnation or be a dead
// letter.
func TestRegressionSelfInRemoteChildLosesNothing(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	sysA, sysB := actor.NewSystem("a", actor.WithSystemLogger(quiet)), actor.NewSystem("b", actor.WithSystemLogger(quiet))
	for _, s := range []*actor.System{sysA, sysB} {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(ctx) })
	}
	var mu sync.Mutex
	var got, dead []string
	for _, s := range []*actor.System{sysA, sysB} {
		t.Cleanup(s.DeadLetters().Subscribe(func(d actor.DeadLetter) {
			if m, ok := d.Message.(string); ok {
				mu.Lock()
				dead = append(dead, m)
				mu.Unlock()
			}
		}))
	}
	a, err := Start(ctx, "a", sysA, WithListen("127.0.0.1:0"), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(ctx) })
	b, err := Start(ctx, "b", sysB, WithURL(a.ClientURL()), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(ctx) })
	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	kind := func() actor.Actor[string] {
		return actor.Func[string](func(cx *actor.Context[string], m string) error {
			switch m {
			case "fan":
				for _, s := range []string{"s1", "s2", "s3"} {
					if err := cx.Self().Send(s); err != nil {
						return err
					}
				}
				once.Do(func() { close(blocked) })
				<-release
				return nil
			case "o1":
				return errors.New("crash on o1")
			}
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
			return nil
		})
	}
	for _, n := range []*Node{a, b} {
		if err := Register(n, "selfish", kind, JSON[string]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "b offering the kind to a", func() bool {
		for _, m := range a.Nodes() {
			if m.Name == "b" && slices.Contains(m.Kinds, "selfish") {
				return true
			}
		}
		return false
	})
	ref, err := Spawn[string](sysA.Root(), a, "c", "selfish", On("b"), actor.WithRestart(supervisor.Permanent))
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send("fan")
	<-blocked
	for _, m := range []string{"o1", "o2", "o3"} {
		_ = ref.Send(m)
	}
	// Wait until the owner's three messages are in the hosted incarnation's
	// mailbox (numbered), behind what the child sent itself.
	waitUntil(t, "o1-o3 queued on b", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, h := range b.hosted {
			h.mu.Lock()
			k := len(h.seqs)
			h.mu.Unlock()
			if k >= 3 {
				return true
			}
		}
		return false
	})
	close(release)
	want := []string{"o1", "o2", "o3", "s1", "s2", "s3"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		all := append(append([]string(nil), got...), dead...)
		mu.Unlock()
		slices.Sort(all)
		if slices.Equal(all, want) {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("received %v, dead letters %v: want each of %v once", got, dead, want)
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(dead, []string{"o1"}) {
		t.Fatalf("dead letters %v, want only the one crashed on", dead)
	}
}

// The stand-in a hosting node keeps for a remote child's Self goes when the
// child stops for good: its owner counts the host among the nodes to tell,
// as it does for a Lookup.
func TestSelfStandInStopsWithTheChild(t *testing.T) {
	a, b, _, _, _ := twoNodes(t, 1<<20)
	kind := func() actor.Actor[string] {
		return actor.Func[string](func(cx *actor.Context[string], m string) error {
			if m == "stop" {
				return supervisor.ErrShutdown
			}
			return nil
		})
	}
	for _, n := range []*Node{a, b} {
		if err := Register(n, "stoppable", kind, JSON[string]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "b offering the kind to a", func() bool {
		for _, m := range a.Nodes() {
			if m.Name == "b" && slices.Contains(m.Kinds, "stoppable") {
				return true
			}
		}
		return false
	})
	ref, err := Spawn[string](a.sys.Root(), a, "c2", "stoppable", On("b"), actor.WithRestart(supervisor.Temporary))
	if err != nil {
		t.Fatal(err)
	}
	standIn := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.lookups["a\x00c2"] != nil
	}
	if !standIn() {
		t.Fatal("no stand-in for the child's Self on b")
	}
	_ = ref.Send("stop")
	<-ref.Done()
	waitUntil(t, "the stand-in gone from b", func() bool { return !standIn() })
}
