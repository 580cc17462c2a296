package actor

import (
	"runtime"
	"unsafe"

	"github.com/airssys/rt/internal/hook"
)

// Scheduling.
//
// An actor holds a goroutine only while it has work: a message queued, or a
// request to stop or crash. The first sender that finds the actor idle
// flips its status from idle to active and starts an activation goroutine;
// other senders only enqueue. The activation handles messages one by one,
// and after throughput of them yields the processor (runtime.Gosched)
// so that a busy actor cannot starve others. When the mailbox is empty it
// lingers for a few yields, in case a reply is on its way (request/reply
// and pipelines keep one goroutine hot instead of starting a fresh one per
// message, whose stack would have to grow again each time), then sets the
// status back to idle and ends. A message that arrives between the last
// look at the mailbox and the status change is not lost: after going idle
// the activation looks once more and takes the cell back if it can.
//
// There is no pool of parked workers: a parked goroutine would belong to
// whoever started it (a testing/synctest bubble, say) and could not safely
// serve actors elsewhere, and it would outlive the trees that used it.
// Goroutines come from the runtime's own free list, which is cheap.

// Bits of cell.state, one word so that a sender reads one.
const (
	stActive uint32 = 1 << iota // an activation goroutine owns the cell
	stHasInc                    // an incarnation is launched (cell.inc != nil)
	stClosed                    // stopped for good (cell.stopped)
	// stCtxUsed: an incarnation has asked for its context (Context.Context),
	// so it may see the cancellation before the stop request arrives (see
	// turns). Set once, never cleared.
	stCtxUsed
	// stOwes: the activation owes the supervisor's event dispatchers
	// their wake-up, to be paid once it has delivered a message (see
	// CarryEvents).
	stOwes
	// stLookLocked: the mailbox has changed in a way a lingering
	// activation cannot see without c.mu (messages put back at the head,
	// a replacing incarnation launched), so its next take is under the
	// lock (see takeLingering). Set and cleared under c.mu.
	stLookLocked
)

const (
	// defaultThroughput is how many messages an activation handles before
	// yielding: large enough to amortise the yield, small enough that a
	// flooded actor shares a processor with others.
	defaultThroughput = 64
)

// yieldAbove is the mailbox depth beyond which senders yield their
// processor now and then after queueing (to a running actor only; Erlang
// similarly charges senders to a long queue). Producers that outrun a
// consumer on the same processors would otherwise build a backlog of
// millions, whose memory (fresh pages, cache misses) costs more than the
// messages themselves. Nothing blocks, and actors that keep up never see
// it.
//
// Only one send in yieldEvery yields: runtime.Gosched puts the goroutine
// on the global run queue under the scheduler's lock, and four producers
// yielding on every send above the mark spent most of their time
// contending for that lock (runtime.lock2 and goschedImpl on top of the
// fan-in profile, 2-4 M msg/s against 8-12 M without the yield on the same
// machine). One in 16 still cost the producers about 10 ns of CPU per
// message and did not bound the backlog either (a 10 M-message fan-in
// still queued millions): one in 256 is cheap, and still hands the
// processor back often enough that a flooded actor waiting for one does
// not wait behind producers that never yield.
var yieldAbove = 4096

// yieldEvery: see yieldAbove; a power of two.
const yieldEvery = 256

// An activation whose mailbox holds more than deepAbove messages (or more
// than half of a bounded mailbox's capacity, if less: see deep) yields
// once every deepYieldEvery turns instead of every turn
// (every 1,024 messages at the default throughput). Such an actor is
// flooded, and the goroutines it yields to are mostly its own senders:
// runtime.Gosched puts it at the back of the global run queue, behind
// them, and while it waits there they queue more, and, running on both
// processors at once, contend for the mailbox's tail. In alternating A/B
// runs of the 4 -> 1 fan-in this took the worst of 8 rounds from 0.46-0.71x
// raw channels to 0.66-0.81x and the CPU time per message from about 40
// to 36 ns; yielding every 64th turn or never was no better. It still
// yields, so the other goroutines on its processor get their turn
// (TestDeepActorYieldsLessButYields).
const (
	deepAbove      = 1024
	deepYieldEvery = 16
)

// lingerYields is how many times an activation yields while its mailbox is
// empty before it gives its goroutine up. Measured in BenchmarkPingPong:
// see the package's benchmark notes.
var lingerYields = 2

// Control requests to an incarnation, flags in incarnation.ctl.
const (
	ctlStop  uint32 = 1 << iota // its supervisor cancelled its ctx
	ctlCrash                    // Crash was called
)

// schedule makes sure an activation will look at the cell soon.
func (c *cell[M]) schedule() {
	if c.activate() {
		go c.run()
	}
}

// activate takes the cell for a new activation, unless one owns it.
func (c *cell[M]) activate() bool {
	for {
		st := c.state.Load()
		if st&stActive != 0 {
			return false
		}
		if c.state.CompareAndSwap(st, st|stActive) {
			return true
		}
	}
}

// runHere is schedule for callers that are on a goroutine of their own
// already (a context.AfterFunc): the activation runs on it.
func (c *cell[M]) runHere() {
	if c.activate() {
		c.run()
	}
}

// run is an activation: it owns the cell until there is nothing to do.
func (c *cell[M]) run() {
	for {
		c.turns()
		c.state.And(^stActive)
		if !c.runnable() || !c.activate() {
			return
		}
	}
}

// runnable reports whether there is work for an activation.
func (c *cell[M]) runnable() bool {
	c.mu.Lock()
	inc := c.inc
	ok := inc != nil && (c.hasQueuedLocked() || inc.ctl.Load() != 0 || inc.rare != nil && inc.rare.retiring != nil)
	if c.capacity != 0 {
		c.tookLocked() // the last messages handled made room (see tookLocked)
	}
	c.mu.Unlock()
	if inc != nil && c.state.Load()&stOwes != 0 {
		c.payEvents(inc) // carried (CarryEvents), and no message came
	}
	return ok
}

// batchMax is how many messages an activation takes out of its mailbox
// per lock: fewer lock round trips when the mailbox is busy. A bounded
// mailbox counts the batch against its capacity until each message goes
// to Receive (see inReserve).
const batchMax = 16

// batchBytes bounds the size of a message type that is batched: the batch
// lives on the activation's stack, which must stay small so that a fresh
// goroutine need not grow it.
const batchBytes = 64

// turns handles control requests and messages until there are none left
// for the current incarnation.
func (c *cell[M]) turns() {
	var zero M
	if unsafe.Sizeof(zero) <= batchBytes {
		var batch [batchMax]M
		c.turnLoop(batch[:])
		return
	}
	var one [1]M
	c.turnLoop(one[:])
}

// turnLoop is turns with a buffer for the messages taken per lock.
func (c *cell[M]) turnLoop(buf []M) {
	var zero M
	budget := c.throughput()
	yields := 0
	deepTurns := 0
	var inc *incarnation[M]
	var held []M   // taken out of the mailbox, not yet delivered
	quiet := false // lingering: look at the mailbox without the lock (see stillQuiet)
	for {
		if len(held) > 0 && (inc.ctl.Load() != 0 || c.state.Load()&stCtxUsed != 0 && inc.cx.ctx.Err() != nil) {
			c.unhold(held) // asked to stop or crash: the rest waits in the mailbox
			held = nil
		}
		if quiet {
			if yields < lingerYields && c.stillQuiet(inc) {
				yields++
				runtime.Gosched()
				continue
			}
			quiet = false // something came, or it lingered enough: look under the lock
		}
		if len(held) == 0 && (yields == 0 || !c.takeLingering(inc, &buf[0])) {
			c.mu.Lock()
			inc = c.inc
			if inc == nil {
				c.q.shrink()
				c.mu.Unlock()
				return
			}
			if inc.rare != nil && inc.rare.retiring != nil {
				old := inc.rare.retiring
				inc.rare.retiring = nil
				c.mu.Unlock()
				c.retire(old) // the predecessors end before this one receives
				continue
			}
			ctl := inc.ctl.Load()
			if ctl&ctlStop == 0 && c.state.Load()&stCtxUsed != 0 && inc.cx.ctx.Err() != nil {
				// Cancelled, and the AfterFunc that says so has not run
				// yet: a Receive that saw ctx.Done() must have been the
				// last. An actor that never asked for its context cannot
				// have seen it, and is spared the check.
				ctl = inc.ctl.Or(ctlStop) | ctlStop
			}
			if ctl != 0 && !inc.drainOne(c, ctl) {
				var err error
				if ctl&ctlCrash != 0 {
					err = inc.rare.crashErr
				}
				c.mu.Unlock()
				c.end(inc, err, ctl&ctlStop != 0)
				continue
			}
			k := len(buf)
			if ctl != 0 {
				k = 1 // draining: one at a time, counted
			}
			held = buf[:c.popLocked(buf[:k])]
			if len(held) == 0 && c.awaitWriter() {
				held = buf[:c.popLocked(buf[:k])]
			}
			if len(held) == 0 {
				if yields < lingerYields {
					c.mu.Unlock()
					yields++
					runtime.Gosched()
					quiet = true
					continue
				}
				c.q.shrink() // going idle: a burst's large buffer can go
				c.inIdle()   // and the inbox's left segments
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
		} else if len(held) == 0 {
			held = buf[:1] // taken without the lock
		}
		yields = 0
		msg := held[0]
		held[0] = zero // the batch must not keep handled messages alive
		held = held[1:]
		processed, err := inc.deliver(msg)
		c.settle(processed, len(held) > 0)
		if c.state.Load()&stOwes != 0 {
			c.payEvents(inc)
		}
		if err != nil {
			// The incarnation ends on this message. The rest of the
			// batch goes back first: once the end is reported, the
			// actor may be stopped for good at once, and what it still
			// held would turn into dead letters after the stop was
			// over.
			if len(held) > 0 {
				c.unhold(held)
				held = nil
			}
			c.end(inc, err, false)
		} else if c.capacity != 0 && len(held) > 0 {
			c.leftHand() // the next one leaves the hand: room for a sender
		}
		if inc.ended && len(held) > 0 {
			c.unhold(held) // the rest is for the next incarnation
			held = nil
		}
		quiet = len(held) == 0 && !inc.ended
		if budget--; budget <= 0 {
			budget = c.throughput()
			if deepTurns++; deepTurns >= deepYieldEvery || !c.deep() {
				deepTurns = 0
				runtime.Gosched()
			}
		}
	}
}

// stillQuiet reports, without c.mu, that a lingering activation has
// nothing new to do: its unbounded mailbox has no message claimed, and
// no stop or crash was asked. Taking the lock only to find the mailbox
// empty was two of the locked instructions of every message of a
// ping-pong (whose two activations take turns on one processor, one
// runtime.Gosched per message). What stillQuiet does not see (a bounded
// mailbox, messages put back at the head, a replaced incarnation) waits
// for the look under the lock that ends the linger, a few yields later.
func (c *cell[M]) stillQuiet(inc *incarnation[M]) bool {
	return c.capacity == 0 && c.tail.Load() == c.head.Load() && inc.ctl.Load() == 0 &&
		(c.state.Load()&stCtxUsed == 0 || inc.cx.ctx.Err() == nil)
}

// takeLingering takes, without c.mu, the message that came to an unbounded
// mailbox while its activation lingered, into *dst, and reports whether it
// did (if not, the look under the lock follows). A ping-pong hop is one
// message after one linger yield, and the lock's two locked instructions
// and the look's checks under it were 10-12% of a round trip (see
// ../benchmarks/BENCHMARKS.md, "Seventh pass").
//
// It takes only what the look under the lock would take first: the
// incarnation it served is asked nothing (ctl, its ctx), the actor has not
// stopped for good, nothing was put back at the head nor a successor
// launched since the last look under the lock (stLookLocked), and the
// inbox's oldest message is written in the segment the consumer is in
// (leaving a segment stays under the lock). It claims the message by
// moving c.head with a compare-and-swap before it reads it: the only
// consumer that can run meanwhile is the stop's taking of the whole
// mailbox (takeAllLocked, under c.mu), which claims the same way, so each
// message is taken once. Messages in hand stay zero: it takes one.
//
//go:noinline
func (c *cell[M]) takeLingering(inc *incarnation[M], dst *M) bool {
	if c.capacity != 0 || inc.ctl.Load() != 0 {
		return false
	}
	st := c.state.Load()
	if st&(stClosed|stLookLocked) != 0 || st&stCtxUsed != 0 && inc.cx.ctx.Err() != nil {
		return false
	}
	s := c.first.Load()
	if s == nil {
		return false
	}
	h := c.head.Load()
	start := s.start.Load()
	if h < start || h-start >= uint64(len(s.slots)) {
		return false
	}
	sl := &s.slots[h-start]
	if sl.stamp.Load() != h+1 || !c.head.CompareAndSwap(h, h+1) {
		return false
	}
	var zero M
	*dst = sl.v
	sl.v = zero // let the message be collected once handled
	return true
}

// CarryEvents implements the supervisor's eventCarrier: the supervisor
// that has just restarted this incarnation asks it to wake the event
// dispatchers whose wake-up the restart held, so that a subscriber's
// delivery goroutine runs after the restart rather than inside it (see
// holdWakes in the supervisor package). It agrees when an activation owns
// the cell (the launch started one for the messages waiting, or the last
// one has not left yet): that activation pays once it has delivered a
// message (turnLoop), or when it finds nothing more to do (runnable),
// through the ctx of the incarnation it serves. Without an activation, or
// launched with no ctx to pay through, it declines and the supervisor
// pays at once. Lock-free: one locked instruction on the restart's path.
func (inc *incarnation[M]) CarryEvents(hook.Token) bool {
	if inc.marks&markExitCtx == 0 {
		return false
	}
	c := inc.cx.cell
	if c.state.Or(stOwes)&stActive == 0 {
		c.state.And(^stOwes) // no activation to pay (the activation's own look at the bit, if any, pays early: harmless)
		return false
	}
	return true
}

// eventPayer is the supervisor's incarnation ctx, which takes the payment
// of CarryEvents.
type eventPayer interface {
	PayEvents(hook.Token)
}

// payEvents pays what CarryEvents promised, once. Not inlined: turnLoop's
// frame stays as it was (see TestCrashPathFitsTheStartingStack).
//
//go:noinline
func (c *cell[M]) payEvents(inc *incarnation[M]) {
	if c.state.And(^stOwes)&stOwes == 0 {
		return
	}
	if p, ok := inc.cx.ctx.(eventPayer); ok {
		p.PayEvents(hook.Token{})
	}
}

// unhold puts messages taken out of the mailbox but not delivered back at
// its head, in order; if the actor has stopped for good meanwhile (an
// abandoned incarnation finishing late), they are dead letters.
func (c *cell[M]) unhold(held []M) {
	var zero M
	c.mu.Lock()
	c.dropHand(len(held) - 1) // the first was uncounted when it became next
	if !c.stopped() {
		for i := len(held) - 1; i >= 0; i-- {
			c.ringLocked().pushFront(held[i])
			held[i] = zero
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	for i := range held {
		c.deadLetter(held[i], errQueuedAtStop)
		held[i] = zero
	}
}

// drainOne decides, under c.mu, whether an incarnation asked to stop may
// still take a message: only with WithDrainOnStop, and only as many as
// were queued when the request was first seen.
func (inc *incarnation[M]) drainOne(c *cell[M], ctl uint32) bool {
	if ctl&ctlCrash != 0 || !c.drain() {
		return false
	}
	r := inc.rareLocked() // few incarnations drain: the count lives apart
	if !r.draining {
		r.draining = true
		r.drainLeft = int32(c.queuedLocked())
	}
	r.drainLeft = min(r.drainLeft, int32(c.queuedLocked())) // DropOldest may have taken some
	if r.drainLeft == 0 {
		return false
	}
	r.drainLeft--
	return true
}

// deliver hands one message to the incarnation; it reports whether the
// message counts as processed, and the error the incarnation ends on, if
// it does (the caller ends it, after putting back the rest of its batch).
func (inc *incarnation[M]) deliver(msg M) (processed bool, end error) {
	c := inc.cx.cell
	err := inc.receive(msg)
	switch {
	case err == nil:
		return true, nil
	case isNormal(err): // ErrShutdown, and no panic
		if asksWaiting.Load() != 0 {
			inc.holdTaken(msg) // handled, but an Ask may still wait on it: end fails it
		}
		return true, err
	default:
		// The failing message is not retried: the next incarnation
		// would likely fail on it again.
		if asksWaiting.Load() != 0 {
			loseTaken(msg, err, false)
		}
		c.deadLetter(msg, err)
		return false, err
	}
}

// retire ends incarnations that were replaced before they ended, oldest
// first. Only the activation that owns the cell calls it, so none of them
// can be in Receive.
func (c *cell[M]) retire(newest *incarnation[M]) {
	var chain []*incarnation[M]
	c.mu.Lock()
	for o := newest; o != nil; {
		chain = append(chain, o)
		var next *incarnation[M]
		if o.rare != nil {
			next, o.rare.retiring = o.rare.retiring, nil
		}
		o = next
	}
	c.mu.Unlock()
	for i := len(chain) - 1; i >= 0; i-- {
		c.end(chain[i], nil, true)
	}
}

// clearHasInc clears stHasInc as inc ends, in one locked instruction,
// with stInc0Ended if inc is the first incarnation. c.mu is held. (Apart
// from end, whose frame is on the crash path's small stack.)
//
//go:noinline
func (c *cell[M]) clearHasInc(inc *incarnation[M]) {
	if inc != &c.inc0 {
		c.state.And(^stHasInc)
		return
	}
	for {
		st := c.state.Load()
		if c.state.CompareAndSwap(st, st&^stHasInc|stInc0Ended) {
			return
		}
	}
}

// end finishes an incarnation on the activation goroutine: PostStop, then
// detach from the cell, then tell the supervisor. The mailbox is left as it
// is for the next incarnation (or for dispose). Replies the incarnation
// still holds fail their Asks with ErrNoReply; a Temporary actor's normal
// end is its stop for good, so there the error wraps ErrStopped too. end
// reports whether the end was such a final one.
func (c *cell[M]) end(inc *incarnation[M], err error, stopped bool) (final bool) {
	if inc.ended {
		return false
	}
	inc.ended = true
	inc.unwatchStop() // an exit of its own needs no wake-up on cancel
	err = inc.postStop(err)
	c.mu.Lock()
	if c.inc == inc {
		c.inc = nil
		c.clearHasInc(inc)
		if stopped || isNormal(err) {
			c.noteEnd(nil)
		} else {
			c.noteEnd(err)
		}
	}
	c.mu.Unlock()
	final = isNormal(err) && c.state.Load()&stTemporary != 0
	if asksWaiting.Load() != 0 {
		loseHeld(inc, err, final)
	}
	// A replaced incarnation's exit is ignored by its supervisor. (This is
	// reportExit, written out: a frame less at the end of a small stack.)
	if inc.marks&markExitCtx != 0 {
		inc.cx.ctx.(ctxExiter).ExitChild(hook.Token{}, err)
		return final
	}
	inc.rare.exit(err)
	return final
}
