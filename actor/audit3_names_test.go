package actor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/airssys/rt/supervisor"
)

// Adversarial tests of one name registration (ebd64cd): an actor spawned
// on its running System root's lane has its name in the root's table
// alone; the registry and the table must stay one namespace.

// stopper stops itself (ErrShutdown) on its first message.
func stopper() Actor[int] {
	return Func[int](func(*Context[int], int) error { return supervisor.ErrShutdown })
}

// A name is free once its actor's Done is closed, wherever it was held
// (the root's table or the registry) and wherever the successor goes:
// catches a successor refused with ErrDuplicateName because the old
// holder was still in the root's table, or still registered, when Done
// closed.
func TestAudit3NameReusedOnceDoneCloses(t *testing.T) {
	sys, sub := systemWithSub(t)
	spawnAt := []func(string) (Ref[int], error){
		func(n string) (Ref[int], error) {
			return SpawnIn(sys, n, stopper, WithRestart(supervisor.Temporary))
		},
		func(n string) (Ref[int], error) {
			return Spawn(sub, n, stopper, WithRestart(supervisor.Temporary))
		},
	}
	for i := range 400 {
		ref, err := spawnAt[i%2]("x")
		if err != nil {
			t.Fatalf("spawn %d: %v", i, err)
		}
		if got, err := Lookup[int](sys, "x"); err != nil || got != ref {
			t.Fatalf("spawn %d: Lookup: %v", i, err)
		}
		_ = ref.Send(1)
		<-ref.Done()
		if _, err := Lookup[int](sys, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("spawn %d: Lookup after Done: %v", i, err)
		}
	}
	if names := sys.Names(); len(names) != 0 {
		t.Fatalf("Names after every actor stopped: %v", names)
	}
}

// The same, with the name freed by DeleteChild and by TerminateChild of a
// Temporary actor under the root: the successor spawns at once.
func TestAudit3RootNameReusedAfterDelete(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())
	for i := range 300 {
		ref, err := SpawnIn(sys, "y", noop[int])
		if err != nil {
			t.Fatalf("spawn %d: %v", i, err)
		}
		if err := sys.Root().TerminateChild("y"); err != nil {
			t.Fatal(err)
		}
		if _, err := Lookup[int](sys, "y"); err != nil {
			t.Fatalf("terminated (not stopped for good) must still be found: %v", err)
		}
		if err := sys.Root().DeleteChild("y"); err != nil {
			t.Fatal(err)
		}
		<-ref.Done()
		if !errors.Is(ref.Send(1), ErrStopped) {
			t.Fatal("Send after DeleteChild")
		}
	}
}

// TestRegressionNamesListsANameOnce: Names and Lookup during churn on the
// root's lane and below. Names is sorted and never lists a name twice,
// and a live actor is always found by Lookup as itself. Names read the
// registry, then the root's table: a name that moved from one to the
// other between the two reads was listed twice (every run failed).
func TestRegressionNamesListsANameOnce(t *testing.T) {
	sys, sub := systemWithSub(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				name := fmt.Sprintf("n%d", i%7) // names shared between workers
				var ref Ref[int]
				var err error
				if (w+i)%2 == 0 {
					ref, err = SpawnIn(sys, name, stopper, WithRestart(supervisor.Temporary))
				} else {
					ref, err = Spawn(sub, name, stopper, WithRestart(supervisor.Temporary))
				}
				if err != nil {
					if !errors.Is(err, ErrDuplicateName) && !errors.Is(err, supervisor.ErrAlreadyPresent) &&
						!errors.Is(err, supervisor.ErrAlreadyStarted) {
						t.Errorf("spawn %s: %v", name, err)
					}
					continue
				}
				if got, err := Lookup[int](sys, name); err != nil || got != ref {
					t.Errorf("Lookup(%s) of a live actor: %v (same: %v)", name, err, got == ref)
				}
				_ = ref.Send(1)
				<-ref.Done()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	bad := ""
	for bad == "" && !isClosed(done) {
		names := sys.Names()
		if !sort.StringsAreSorted(names) {
			bad = fmt.Sprintf("Names not sorted: %v", names)
		}
		for i := 1; i < len(names); i++ {
			if names[i] == names[i-1] {
				bad = fmt.Sprintf("Names lists %q twice: %v", names[i], names)
			}
		}
	}
	<-done
	if bad != "" {
		t.Fatal(bad)
	}
	if names := sys.Names(); len(names) != 0 {
		t.Fatalf("Names after the churn: %v", names)
	}
}

// SpawnIn racing Shutdown: each spawn fails (ErrStopped) or returns an
// actor that has stopped for good once Shutdown returns; then nothing is
// registered and no name can be taken.
func TestAudit3SpawnInRacingShutdown(t *testing.T) {
	total := 0
	defer func() { t.Logf("%d spawned in 50 rounds", total) }()
	for round := range 50 {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var refs []Ref[int]
		var spawned atomic.Int32
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				for i := 0; ; i++ {
					ref, err := SpawnIn(sys, fmt.Sprintf("w%d-%d", w, i), noop[int])
					if err != nil {
						if !errors.Is(err, supervisor.ErrStopped) {
							t.Errorf("round %d: SpawnIn: %v", round, err)
						}
						return
					}
					spawned.Add(1)
					mu.Lock()
					refs = append(refs, ref)
					mu.Unlock()
				}
			})
		}
		for spawned.Load() < int32(round%10) {
			runtime.Gosched()
		}
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for _, ref := range refs {
			select {
			case <-ref.Done():
			default:
				// Spawned after Shutdown returned? It must have failed then.
				t.Fatalf("round %d: %s spawned, yet running after Shutdown", round, ref.Name())
			}
			if _, err := Lookup[int](sys, ref.Name()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("round %d: Lookup(%s) after Shutdown: %v", round, ref.Name(), err)
			}
		}
		if names := sys.Names(); len(names) != 0 {
			t.Fatalf("round %d: Names after Shutdown: %v", round, names)
		}
		total += int(spawned.Load())
		if _, err := SpawnIn(sys, "late", noop[int]); !errors.Is(err, supervisor.ErrStopped) {
			t.Fatalf("round %d: SpawnIn after Shutdown: %v", round, err)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
