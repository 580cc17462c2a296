package actor

// A regression test from the audit2 review of the Ask fix (ErrNoReply):
// the walk for Replies in an ended actor's value.

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
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

// a2AtomicActor shares an atomic.Value (written by other goroutines with
// atomic stores) and a context.Context (whose cancel writes its insides).
type a2AtomicActor struct {
	v    *atomic.Value
	ctx  context.Context
	seen chan<- int
}

func (a *a2AtomicActor) Receive(_ *Context[string], m string) error {
	if m == "crash" {
		return errBoom
	}
	a.seen <- 1
	return nil
}

// The walk read the insides of sync/atomic and context values (an
// atomic.Value's interface, a cancelCtx's err and cause) without their
// atomics or locks, while other goroutines wrote them: a data race under
// -race without the fix (the walk does not enter the standard library's
// synchronised types, which hold no Reply).
func TestRegressionAudit2ReplyWalkReadsAtomics(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(1_000_000, time.Second))
	holder, err := Spawn(sup, "holder", func() Actor[a2Req] { return &a2Holder{} })
	if err != nil {
		t.Fatal(err)
	}
	askCtx, cancelAsk := context.WithCancel(context.Background())
	asked := make(chan struct{})
	go func() {
		defer close(asked)
		_, _ = Ask(askCtx, holder, func(r Reply[int]) a2Req { return a2Req{"hold", r} })
	}()
	for asksWaiting.Load() == 0 {
		runtime.Gosched()
	}
	var v atomic.Value
	v.Store(any(1))
	seen := make(chan int, 1)
	var cur atomic.Pointer[context.Context]
	newCtx := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		go cancel() // its insides are written while the walk may read them
		return ctx
	}
	c0 := newCtx()
	cur.Store(&c0)
	ref, err := Spawn(sup, "atomics", func() Actor[string] { return &a2AtomicActor{&v, *cur.Load(), seen} })
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v.Store(any(i))
		}
	})
	for range 200 {
		c := newCtx()
		cur.Store(&c)
		_ = ref.Send("crash")
		_ = ref.Send("x")
		a2Wait(t, seen, "the message after a crash")
	}
	close(stop)
	wg.Wait()
	cancelAsk()
	<-asked
}
