package remote

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
)

// lookupPair starts node a (listening) and node b (a's server), b serving
// an actor "x", and returns them once a sees b up. a is closed at cleanup
// if the test has not closed it.
func lookupPair(t *testing.T) (a, b *Node) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	a, err := Start(ctx, "a", quietSystem(t), WithListen("127.0.0.1:0"), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(ctx) })
	sysB := quietSystem(t)
	b, err = Start(ctx, "b", sysB, WithURL(a.ClientURL()), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(ctx) })
	ref, err := actor.SpawnIn(sysB, "x", func() actor.Actor[string] {
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Expose(b, ref, JSON[string]{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(a.Nodes()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a never saw b")
		}
		time.Sleep(time.Millisecond)
	}
	return a, b
}

// holdLookupAt makes the next Lookup wait at step (see lookupStep) until
// release is closed; entered is closed when it gets there.
func holdLookupAt(t *testing.T, step string) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	lookupStep = func(s string) {
		if s == step {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
	}
	t.Cleanup(func() { lookupStep = nil })
	return entered, release
}

// A Lookup whose peer had answered when its node closed spawned its
// stand-in under the node's stopped proxies supervisor, and failed with
// that supervisor's ErrStopped: not an error wrapping ErrClosed, which is
// what every remote call made during or after Close returns.
func TestRegressionLookupAnsweredDuringCloseIsErrClosed(t *testing.T) {
	a, _ := lookupPair(t)
	entered, release := holdLookupAt(t, "answered")
	got := make(chan error, 1)
	go func() {
		_, err := Lookup(context.Background(), a, "b", "x", JSON[string]{})
		got <- err
	}()
	<-entered
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-got; !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup during Close: %v, want an error wrapping ErrClosed", err)
	}
}

// A Lookup whose stand-in was spawned just before its node closed
// returned that stand-in as a live Ref, with no error: a Ref that Close had
// already stopped, from a call made during Close.
func TestRegressionLookupSpawnedDuringCloseIsErrClosed(t *testing.T) {
	a, _ := lookupPair(t)
	entered, release := holdLookupAt(t, "spawned")
	type result struct {
		ref actor.Ref[string]
		err error
	}
	got := make(chan result, 1)
	go func() {
		ref, err := Lookup(context.Background(), a, "b", "x", JSON[string]{})
		got <- result{ref, err}
	}()
	<-entered
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(release)
	if r := <-got; !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Lookup during Close: %v (Ref %v), want an error wrapping ErrClosed", r.err, r.ref)
	}
	a.mu.Lock()
	left := len(a.lookups)
	a.mu.Unlock()
	if left != 0 {
		t.Errorf("%d stand-ins left registered on the closed node", left)
	}
}

// The Refs that Lookup made stop when their node closes, and say why: an
// error wrapping ErrClosed (as one wraps ErrNodeDown when the peer goes
// down), not a bare stop of the stand-ins' supervisor.
func TestRegressionLookupRefStopsWithErrClosed(t *testing.T) {
	a, _ := lookupPair(t)
	ref, err := Lookup(context.Background(), a, "b", "x", JSON[string]{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ref.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the Lookup Ref did not stop with its node")
	}
	if err := ref.Err(); !errors.Is(err, ErrClosed) || !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Err %v, want ErrStopped and ErrClosed", err)
	}
	if _, err := Lookup(context.Background(), a, "b", "x", JSON[string]{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup after Close: %v, want ErrClosed", err)
	}
}

// Lookups racing Close, without a seam: whatever each one returns, an
// error is one wrapping ErrClosed, and a Ref it returns stops with the
// node. Each round is a fresh node joining b's server.
func TestLookupsRacingCloseFailWithErrClosed(t *testing.T) {
	_, b := lookupPair(t)
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		c, err := Start(ctx, "c", quietSystem(t), WithURL(b.Conn().ConnectedUrl()), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := Lookup(lctx, c, "b", "x", JSON[string]{}); err != nil { // b is up for c
			cancel()
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				name := "x"
				if i%2 == 1 {
					name = "nobody" // not cached: a round trip each time
				}
				ref, err := Lookup(lctx, c, "b", name, JSON[string]{})
				if err != nil {
					errs <- err
					return
				}
				select {
				case <-ref.Done():
				case <-time.After(5 * time.Second):
					errs <- errors.New("a Ref from a Lookup racing Close did not stop")
				}
			})
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		cancel()
		close(errs)
		for err := range errs {
			if !errors.Is(err, ErrClosed) && !errors.Is(err, actor.ErrNotFound) {
				t.Errorf("round %d: a Lookup racing Close: %v", round, err)
			}
		}
	}
}

// After Close, every call on the node fails with an error wrapping
// ErrClosed: Spawn started a detached child and returned it with no error,
// and the Transport passed on NATS' own "connection closed".
func TestRegressionEveryCallAfterCloseIsErrClosed(t *testing.T) {
	ctx := context.Background()
	sys := quietSystem(t)
	a, err := Start(ctx, "a", sys, WithHeartbeat(50*time.Millisecond, 4), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	echo := func() actor.Actor[string] {
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	}
	if err := Register(a, "echo", echo, Codec[string](JSON[string]{})); err != nil {
		t.Fatal(err)
	}
	tr := a.Transport()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	local, _ := actor.SpawnIn(sys, "local", echo)
	calls := map[string]error{}
	_, calls["Spawn"] = Spawn[string](sys.Root(), a, "child", "echo", Local())
	calls["Register"] = Register(a, "other", echo, Codec[string](JSON[string]{}))
	calls["Expose"] = Expose(a, local, JSON[string]{})
	_, calls["Lookup"] = Lookup(ctx, a, "b", "x", JSON[string]{})
	calls["Publish"] = tr.Publish(ctx, "topic", []byte("m"))
	_, calls["Subscribe"] = tr.Subscribe("topic", func(context.Context, []byte) {})
	for call, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want an error wrapping ErrClosed", call, err)
		}
	}
}
