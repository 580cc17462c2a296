package supervisor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/airssys/rt/internal/hook"
)

// An incarnation is itself the context its child runs under: one
// allocation instead of a cancelCtx, its cancel closure and the record,
// on the path of every start and restart. It carries the values of the
// ctx given to Start but not its cancellation: the supervisor stops
// children one at a time, in order, by cancelling each.
//
// Its lock is not a field but one of ctxLocks (see mu), and its canceled
// flag shares a word with the incarnation's own (flags), so that a child
// record with its first incarnation inside is in the 160-byte size class
// (TestChildRecordStaysSmall).
type incCtx struct {
	r *run // its run: r.base gives the values (context.WithoutCancel), and the Launcher's exit finds the run here

	// flags holds ctxCanceled (Err is context.Canceled; read without the
	// lock, 16 bytes less than an error) and the incarnation's bits
	// (incExited and the others, see incarnation): one word for both.
	flags    atomic.Uint32
	inline   bool     // first was registered by afterFuncInline: cancel calls it directly; guarded by mu()
	stopKid  bool     // the inline slot holds the child itself (OnCancelStopChild): first is nil; guarded by mu()
	slotUsed bool     // the first slot has been given (first or stopKid): never again, even once emptied; guarded by mu()
	lane     uint8    // the incarnation's: laneStarted or laneTemporary, or 0 (written before it is launched)
	rare     *ctxRare // Done's channel and the AfterFuncs, behind a pointer: an actor's ctx needs none of them
}

// The values of incCtx.lane other than 0 (not started on the lane).
const (
	// laneStarted: started on the lane; its exit may be handled there
	// (lane.go), or by the loop if the loop took the child.
	laneStarted uint8 = 1 + iota
	// laneTemporary: laneStarted, and Temporary, so that laneExit hands
	// its exit to the reaper. Known at the start, so that the exit, on
	// the child's goroutine, need not read the record's spec (a line the
	// spawning goroutine wrote on another processor: a cache miss per
	// exit).
	laneTemporary
)

// ctxCanceled is the bit of incCtx.flags set when the ctx is cancelled,
// above the incarnation's bits.
const ctxCanceled = 1 << 8

// canceledNow reports whether the ctx has been cancelled.
func (c *incCtx) canceledNow() bool { return c.flags.Load()&ctxCanceled != 0 }

// ctxLocks are the locks of incarnations' contexts, each ctx guarded by
// the one its address picks (see mu): 100,000 idle children would keep
// 100,000 locks that are each held a few times in a life, for a few
// instructions (registering a function, cancelling). A ctx's lock is never
// held while another's is taken, nor across anything that blocks, so two
// contexts that share one only ever wait for each other's few
// instructions. Each is on a cache line of its own.
var ctxLocks [64]struct {
	sync.Mutex
	_ [64 - 8]byte
}

// mu is the lock that guards c's fields marked so, and rare.
func (c *incCtx) mu() *sync.Mutex {
	h := uint64(uintptr(unsafe.Pointer(c))) * 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits mix all of the address
	return &ctxLocks[h>>(64-6)].Mutex
}

// ctxRare is what a child's ctx needs only if asked for its Done channel
// (a goroutine child) or given a function to call at its cancel: an
// actor's ctx holds the actor itself for that (OnCancelStopChild) and
// needs none of it. Kept apart, the child record with its first
// incarnation inside is in the 160-byte size class
// (TestChildRecordStaysSmall).
type ctxRare struct {
	done  chan struct{} // created lazily: goroutine-less children may never ask
	first func()        // the first AfterFunc registration (the slot; see slotUsed)
	more  []*afterFunc  // any AfterFuncs after the first
}

// rareLocked is c's rare part, made on first use; c.mu() is held.
func (c *incCtx) rareLocked() *ctxRare {
	if c.rare == nil {
		c.rare = &ctxRare{}
	}
	return c.rare
}

type afterFunc struct {
	f   func()
	ran bool
}

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// endedCtx is the context a child that has stopped for good keeps in
// place of its incarnation's (see Ended): cancelled, with the same values,
// and shared by every child of the run, so that it holds no child's
// record. The hook methods make a late call through it (an actor's end
// racing a supervisor that gave up on it) do nothing rather than panic.
type endedCtx struct{ base context.Context }

func (*endedCtx) Deadline() (time.Time, bool)        { return time.Time{}, false }
func (*endedCtx) Done() <-chan struct{}              { return closedDone }
func (*endedCtx) Err() error                         { return context.Canceled }
func (e *endedCtx) Value(key any) any                { return e.base.Value(key) }
func (*endedCtx) ExitChild(hook.Token, error)        {}
func (*endedCtx) OnCancelStopChild(hook.Token) bool  { return false }
func (*endedCtx) StopOnCancelInline(hook.Token) bool { return false }
func (*endedCtx) Ended(hook.Token) context.Context   { return nil }

// Ended returns the context a child that has stopped for good may keep
// instead of c, once its incarnation has reported its exit (nil before):
// cancelled, with c's values, holding nothing of c. An actor's cell keeps
// its first incarnation's context for as long as anyone holds its Ref, and
// with it this incarnation's child record (160 bytes), which a program
// that keeps the Refs of many stopped actors would otherwise keep too
// (issue 10: spawn + 1 message + stop). The hook.Token keeps the agreement
// out of reach of code outside this module; see package hook.
func (c *incCtx) Ended(hook.Token) context.Context {
	if c.flags.Load()&incExited == 0 || c.r == nil || c.r.ended == nil {
		return nil
	}
	return c.r.ended
}

// Deadline reports none: a child's context lives as long as the child.
func (c *incCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is closed when the supervisor stops this incarnation.
func (c *incCtx) Done() <-chan struct{} {
	c.mu().Lock()
	defer c.mu().Unlock()
	if c.rare == nil || c.rare.done == nil {
		if c.canceledNow() {
			return closedDone
		}
		c.rareLocked().done = make(chan struct{})
	}
	return c.rare.done
}

// Err is context.Canceled once the supervisor stopped this incarnation.
func (c *incCtx) Err() error {
	if c.canceledNow() {
		return context.Canceled
	}
	return nil
}

// Value returns the values of the ctx given to the supervisor's Start.
func (c *incCtx) Value(key any) any { return c.r.base.Value(key) }

// AfterFunc lets context.AfterFunc and context.WithCancel on a child's ctx
// register without a goroutine of their own, as they do on a cancelCtx.
func (c *incCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu().Lock()
	if c.canceledNow() {
		c.mu().Unlock()
		go f()
		return stopped
	}
	if !c.slotUsed {
		c.rareLocked().first, c.slotUsed = f, true
		c.mu().Unlock()
		return c.stopFirst
	}
	a := &afterFunc{f: f}
	r := c.rareLocked()
	r.more = append(r.more, a)
	c.mu().Unlock()
	return func() bool {
		c.mu().Lock()
		defer c.mu().Unlock()
		if a.ran {
			return false
		}
		a.ran = true
		for i, o := range c.rare.more {
			if o == a {
				c.rare.more = append(c.rare.more[:i], c.rare.more[i+1:]...)
				break
			}
		}
		return true
	}
}

func stopped() bool { return false }

// afterFuncInline is AfterFunc for a function that never blocks: cancel
// calls it on the cancelling goroutine rather than on a goroutine of its
// own. The supervisor stops children one at a time on its own goroutine,
// so for an idle actor (a Launcher) that goroutine hop and the wait for it
// were most of the cost of each stop in a group restart. A function
// registered here must hand anything that may block (user code such as
// PostStop, a Receive while draining) to a goroutine of its own. Only the
// first registration of an incarnation may be inline; later ones, and any
// made after the cancel, run as AfterFunc's do.
func (c *incCtx) afterFuncInline(f func()) (stop func() bool) {
	if !c.onCancelInline(f) {
		return c.AfterFunc(f)
	}
	return c.stopFirst
}

// onCancelInline is afterFuncInline for a caller that keeps no stop
// function: an actor's incarnation, of which a program may hold 100,000
// idle, each keeping what it registered (a stop function is an
// allocation of its own). It reports whether f took the inline slot; if
// not (the context is cancelled already, or something registered first),
// nothing was registered, and the caller falls back to AfterFunc.
// StopOnCancelInline undoes it.
func (c *incCtx) onCancelInline(f func()) bool {
	c.mu().Lock()
	defer c.mu().Unlock()
	if c.canceledNow() || c.slotUsed {
		return false
	}
	c.rareLocked().first = f
	c.inline, c.slotUsed = true, true
	return true
}

// childStopper is implemented by children that take their stop request
// on the cancelling goroutine (actors' incarnations): StopInline must
// never block, as an afterFuncInline function. (The hook.Token keeps
// the agreement out of reach of code outside this module; see package hook.)
type childStopper interface{ StopInline(hook.Token) }

// OnCancelStopChild is onCancelInline with the child itself in the slot:
// the cancel calls the child's StopInline, and no function is made for
// it (an actor's method value would be an allocation that each of
// 100,000 idle actors keeps). It reports whether the child took the slot;
// StopOnCancelInline undoes it. Only the context of a supervisor's
// incarnation whose child is a childStopper may be asked.
func (c *incCtx) OnCancelStopChild(hook.Token) bool {
	c.mu().Lock()
	defer c.mu().Unlock()
	if c.canceledNow() || c.slotUsed {
		return false
	}
	c.inline, c.stopKid, c.slotUsed = true, true, true
	return true
}

// StopOnCancelInline unregisters what OnCancelStopChild (or onCancelInline)
// registered;
// it reports false once that has run or been stopped.
func (c *incCtx) StopOnCancelInline(hook.Token) bool { return c.stopFirst() }

// stopFirst unregisters the first AfterFunc; it reports false once the
// function has run or been stopped.
func (c *incCtx) stopFirst() bool {
	c.mu().Lock()
	defer c.mu().Unlock()
	if (c.rare == nil || c.rare.first == nil) && !c.stopKid {
		return false
	}
	// slotUsed stays set: later registrations keep out of the slot, so
	// that a second stopFirst cannot unregister someone else's function.
	if c.rare != nil {
		c.rare.first = nil
	}
	c.inline, c.stopKid = false, false
	return true
}

// cancel cancels the incarnation's context, and tells its child if the
// child asked (OnCancelStopChild), on this goroutine.
func (inc *incarnation) cancel() {
	if inc.incCtx.cancel() {
		if s, ok := inc.inst.(childStopper); ok {
			s.StopInline(hook.Token{})
		}
	}
}

// cancel cancels c, running what was registered; it reports whether the
// child asked to be told (OnCancelStopChild), which the caller does.
func (c *incCtx) cancel() (stopChild bool) {
	c.mu().Lock()
	if c.canceledNow() {
		c.mu().Unlock()
		return false
	}
	c.flags.Or(ctxCanceled)
	var first func()
	var more []*afterFunc
	if r := c.rare; r != nil {
		if r.done != nil {
			close(r.done)
		}
		first, more = r.first, r.more
		r.first, r.more = nil, nil
	}
	inline, stopKid := c.inline, c.stopKid
	c.inline, c.stopKid = false, false
	for _, a := range more {
		a.ran = true
	}
	c.mu().Unlock()
	switch {
	case first == nil:
	case inline:
		first()
	default:
		go first()
	}
	for _, a := range more {
		go a.f()
	}
	return stopKid
}
