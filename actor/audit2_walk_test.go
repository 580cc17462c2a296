package actor

// A regression test from the audit2 review of the Ask fix (ErrNoReply):
// the walk for Replies in an ended actor's value.

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// a2Shared is state an actor shares with other goroutines, guarded by
// its own lock, as a cache or a pool is.
type a2Shared struct {
	mu    sync.Mutex
	items []*int
}

// a2SharingActor holds a pointer to shared state and keeps no Reply.
type a2SharingActor struct {
	sh   *a2Shared
	seen chan<- int
}

func (a *a2SharingActor) Receive(_ *Context[string], m string) error {
	if m == "crash" {
		return errBoom
	}
	a.sh.mu.Lock()
	a.sh.items = append(a.sh.items, new(int))
	a.sh.mu.Unlock()
	a.seen <- 1
	return nil
}

// While any Ask waits, an incarnation that ends has its actor value
// walked for the Replies it holds (loseHeld). The walk followed every
// pointer and slice, so an actor pointing to state shared with running
// goroutines (guarded by their own lock, which the walk does not take)
// had that state read unlocked: a data race, and a torn slice header
// read. Now the walk enters only values whose type can hold a Reply. Under
// -race this fails without the fix.
func TestRegressionAudit2ReplyWalkReadsSharedStateUnlocked(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(1_000_000, time.Second))
	// An Ask waits somewhere in the program: the exit path then walks the
	// ended actor's value for Replies.
	holder, err := Spawn(sup, "holder", func() Actor[a2Req] { return &a2Holder{} })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	asked := make(chan struct{})
	go func() {
		defer close(asked)
		_, _ = Ask(ctx, holder, func(r Reply[int]) a2Req { return a2Req{"hold", r} })
	}()
	sh := &a2Shared{}
	seen := make(chan int, 1)
	ref, err := Spawn(sup, "sharer", func() Actor[string] { return &a2SharingActor{sh, seen} })
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // another user of the shared state, under its lock
		for {
			select {
			case <-stop:
				return
			default:
			}
			sh.mu.Lock()
			sh.items = append(sh.items, new(int))
			if len(sh.items) > 64 {
				sh.items = nil
			}
			sh.mu.Unlock()
		}
	})
	for asksWaiting.Load() == 0 {
		runtime.Gosched()
	}
	for range 200 {
		_ = ref.Send("crash") // the incarnation ends while the other goroutine writes
		_ = ref.Send("x")     // the next one handles this
		a2Wait(t, seen, "the message after a crash")
	}
	close(stop)
	wg.Wait()
	cancel()
	<-asked
}
