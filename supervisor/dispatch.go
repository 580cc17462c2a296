package supervisor

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airssys/rt/internal/hook"
)

// dispatcher delivers events off the control goroutine, in order, so that
// a slow handler or a slow log sink never stalls supervision.
//
// It has one delivery goroutine, started by the first event and kept,
// parked on a channel between events, while the supervisor that owns the
// dispatcher runs (open): an event then costs a queue append and, when the
// goroutine is parked, one wake-up, rather than a goroutine per burst.
// When the supervisor ends (closed), the goroutine delivers what is queued
// and exits, so no goroutine of the library outlives its tree; an event
// that arrives while closed (from a descendant left running) gets a
// goroutine for its burst only.
type dispatcher struct {
	owner   *Supervisor // whose logger logs the items marked so, and reports a handler's panic
	handler func(Event) // called with every event; nil: none (a log-only dispatcher)

	mu         sync.Mutex
	head, tail *eventBlock   // queued events, oldest first
	free       *eventBlock   // delivered blocks kept for reuse
	nfree      int           // how many
	running    bool          // a delivery goroutine exists
	parked     bool          // it waits on wake for more events
	owed       bool          // parked with events queued: its wake-up is held (holdWakes)
	paid       bool          // woken by a payment: deliver, then park without lingering
	busy       bool          // it is delivering a batch
	open       bool          // its owner runs: park when idle rather than exit
	wake       chan struct{} // one slot; made with the first goroutine
	idle       *sync.Cond    // broadcast when the goroutine goes idle or exits; nil until drain needs it
	waiting    int           // callers of drain waiting on idle

	stopped atomic.Bool // a cancelled subscription: deliver nothing more
}

// dispatchItem is one queued event, 40 bytes: the queue is written on
// the supervisor's restart path, and what it costs there grows with the
// bytes and instructions spent per event (the earlier 136-byte items, a
// whole Event and its logger and handler, made a restart with one
// subscriber 7% slower at p50 than without). An incarnation's start and
// end, the events of every restart, are recorded by reference (inc) and
// built into an Event on the delivery goroutine; any other event is
// copied whole into its block's full.
type dispatchItem struct {
	inc      *incarnation // the incarnation started or ended (see incEvent); nil: the block's next full event
	at       time.Time    // with inc: Event.Time
	restarts int32        // with inc: Event.Restarts
	kind     uint8        // with inc: Event.Kind
	log      bool         // the owner's logger logs it
}

// eventBlock is a piece of a dispatcher's queue. Events are written in
// place, in blocks that are reused: a queue that grows while the delivery
// goroutine waits for a processor (on a busy machine it may run once per
// hundreds of events) never copies what it holds, which a slice's growth
// did on the emitting goroutine (the supervisor's, in its restart path).
type eventBlock struct {
	next  *eventBlock
	n     int
	full  []Event // the events queued whole, in order (items without inc); reused
	items [eventBlockLen]dispatchItem
}

const (
	eventBlockLen = 32 // 1.3 KB a block (5 KB if every item is a full event)
	maxFreeBlocks = 32 // kept per dispatcher after a burst (40-160 KB at most)
)

// holdWakes: a restart's events are delivered after the restart, not in
// the middle of it.
//
// When an actor crashes and a message is already waiting for it (a crash
// loop, or a busy actor), the restart runs on one processor by hand-offs:
// the crashing activation to the supervisor's loop, the loop to the new
// activation it launches, the new activation to whoever its first message
// answers. A delivery goroutine woken by the restart's events waits in that
// processor's run queue meanwhile, and runs at the first moment nothing
// was handed off: after the new activation's first message, when it yields
// to linger and its sender blocks on the answer; that is, inside the
// restart as its sender sees it (BenchmarkRestart/actor-subscribed: +16%
// at p50 over no subscriber, against +1% without the delivery goroutine's
// turn). So the loop holds the wake-up of a parked delivery goroutine
// while it handles an exit (owed), and hands the payment to the actor it
// restarted, when that actor has a message waiting (see CarryEvents in
// package actor): its activation pays once it has delivered that message,
// and the delivery goroutine then runs in the hand-off to whoever the
// message answered. If the actor cannot carry it, the loop pays at once,
// at the end of the exit's handling. The loop also pays whatever is still
// owed at its next turn and at its end (an ancestor's dispatchers stay
// open after it), drain pays before it waits, and a closing
// dispatcher is woken anyway. A timer pays what is still owed
// heldWakeLimit (1 ms) after the carry (armed at most once at a time, so
// a crash loop pays that way about once per millisecond, not once per
// restart): a held wake-up is late by at most the restarted actor's first
// message or heldWakeLimit, whichever ends first, and log lines are never
// held.
//
// A paid delivery goroutine does not linger after its batch: lingering
// would put it on the run queue ahead of the restarted activation's own
// linger, and it would run inside the next restart again.

// push queues an event, to be logged by the owner's logger if log, and
// given to the handler. With hold, a parked delivery goroutine is not
// woken: its wake-up is owed (see holdWakes), and push reports it.
func (d *dispatcher) push(e *Event, log, hold bool) (held bool) {
	d.mu.Lock()
	b := d.tail
	if b == nil || b.n == len(b.items) {
		b = d.newTail()
	}
	b.full = append(b.full, *e)
	b.items[b.n] = dispatchItem{log: log}
	b.n++
	return d.pushed(hold)
}

// pushInc queues inc's start or end, an event of kind k at now with
// restarts, by reference: its Event is built on the delivery goroutine
// (see incEvent). As push otherwise.
func (d *dispatcher) pushInc(k EventKind, inc *incarnation, now *time.Time, restarts int, log, hold bool) (held bool) {
	d.mu.Lock()
	b := d.tail
	if b == nil || b.n == len(b.items) {
		b = d.newTail()
	}
	b.items[b.n] = dispatchItem{inc: inc, at: *now, restarts: int32(restarts), kind: uint8(k), log: log}
	b.n++
	if d.running && !d.parked { // delivering, or about to: nothing to wake
		d.mu.Unlock()
		return false
	}
	return d.pushed(hold)
}

// newTail appends a block to the queue, a kept one if it can. d.mu is held.
func (d *dispatcher) newTail() *eventBlock {
	b := d.free
	if b != nil {
		d.free, b.next = b.next, nil
		d.nfree--
	} else {
		b = new(eventBlock)
	}
	if d.tail == nil {
		d.head = b
	} else {
		d.tail.next = b
	}
	d.tail = b
	return b
}

// pushed wakes or starts the delivery goroutine for the item just queued,
// or holds its wake-up (see push), and releases d.mu.
func (d *dispatcher) pushed(hold bool) (held bool) {
	switch {
	case !d.running:
		d.running = true
		if d.wake == nil {
			d.wake = make(chan struct{}, 1)
		}
		d.mu.Unlock()
		go d.loop()
		return false
	case d.parked:
		if hold {
			d.owed = true
			d.mu.Unlock()
			return true
		}
		d.parked, d.owed = false, false
		d.mu.Unlock()
		d.wake <- struct{}{} // never blocks: one slot, one send per park
		return false
	}
	d.mu.Unlock()
	return false
}

// pay wakes the delivery goroutine if its wake-up is owed; carried says
// that the restarted actor pays it, after the restart (no linger then).
func (d *dispatcher) pay(carried bool) {
	d.mu.Lock()
	if !d.owed {
		d.mu.Unlock()
		return
	}
	d.owed, d.parked, d.paid = false, false, carried
	d.mu.Unlock()
	d.wake <- struct{}{}
}

// settleHeld ends the loop's handling of an exit whose events held a
// wake-up: the actor it restarted carries the payment if it can, or the
// loop pays now.
func (r *run) settleHeld() {
	if ec := r.carrier; ec != nil {
		r.owes.Store(true) // before the carrier can pay
		if ec.CarryEvents(hook.Token{}) {
			r.held = false
			if !r.oweArmed.Load() {
				r.armOweLimit()
			}
			return
		}
		r.owes.Store(false)
	}
	r.wakeHeld()
}

// heldWakeLimit bounds how late a carried restart's events reach their
// handlers when the restarted actor's first Receive takes long (see
// holdWakes).
const heldWakeLimit = time.Millisecond

// armOweLimit starts the bound on carried wake-ups (run.oweLimit). Its
// function clears oweArmed before it pays: a carry that saw it still armed
// stored owes before that, so the payment covers it.
func (r *run) armOweLimit() {
	r.oweArmed.Store(true)
	if r.oweLimit == nil {
		r.oweLimit = time.AfterFunc(heldWakeLimit, func() {
			r.oweArmed.Store(false)
			r.payHeld(false)
		})
		return
	}
	r.oweLimit.Reset(heldWakeLimit)
}

// wakeHeld is the loop's own payment of the wake-ups its emits held.
func (r *run) wakeHeld() {
	r.held = false
	r.payAll(false)
}

// payHeld is the payment of a restart's carried wake-ups (see owes): by
// the restarted actor's activation (PayEvents), or by the loop's next
// turn if that has not come first. Any goroutine may call it; the first
// pays.
func (r *run) payHeld(carried bool) {
	if r.owes.Swap(false) {
		r.payAll(carried)
	}
}

// payAll pays the dispatchers emit pushes to whose wake-up is owed.
func (r *run) payAll(carried bool) {
	for p := r.s; p != nil; p = p.parent {
		if p.cfg.handler != nil {
			p.events.pay(carried)
		}
		if subs := p.subs.Load(); subs != nil {
			for _, sub := range *subs {
				sub.events.pay(carried)
			}
		}
	}
}

// eventCarrier is a Launcher that can carry a restart's held wake-ups
// (an actor's incarnation): CarryEvents reports whether it will pay them
// (through the PayEvents of the ctx it was launched with) once it has
// handled the message that waits for it. Its Token keeps code outside
// this module from implementing it.
type eventCarrier interface {
	CarryEvents(hook.Token) bool
}

func (d *dispatcher) setOpen(open bool) {
	d.mu.Lock()
	d.open = open
	if !open && d.parked {
		d.parked, d.owed = false, false
		d.mu.Unlock()
		d.wake <- struct{}{}
		return
	}
	d.mu.Unlock()
}

// loop is the delivery goroutine. Its name is known to onDeliverer.
func (d *dispatcher) loop() {
	d.mu.Lock()
	yielded := false
	paid := false // woken by a payment: no linger (see holdWakes)
	for {
		if d.head == nil && d.open && !yielded && !paid {
			// Events come in bursts (a restart is a failure and a start):
			// let the rest of the burst come before parking, which spares
			// the control loop a wake-up per event.
			yielded = true
			d.mu.Unlock()
			runtime.Gosched()
			d.mu.Lock()
			continue
		}
		yielded = false
		if d.head == nil {
			d.busy = false
			if !d.open {
				d.running = false
				d.signalIdle()
				d.mu.Unlock()
				return
			}
			d.parked = true
			d.signalIdle()
			d.mu.Unlock()
			<-d.wake
			d.mu.Lock()
			paid, d.paid = d.paid, false
			continue
		}
		batch := d.head
		d.head, d.tail = nil, nil
		d.busy = true
		d.mu.Unlock()
		for b := batch; b != nil; b = b.next {
			d.deliverBlock(b)
		}
		d.mu.Lock()
		for b := batch; b != nil && d.nfree < maxFreeBlocks; {
			next := b.next
			b.next, d.free = d.free, b
			d.nfree++
			b = next
		}
	}
}

// deliverBlock delivers b's events in order and empties b for reuse.
func (d *dispatcher) deliverBlock(b *eventBlock) {
	full := 0
	for i := range b.n {
		it := &b.items[i]
		var e Event
		if it.inc != nil {
			e = it.incEvent()
		} else {
			e = b.full[full]
			full++
		}
		if d.stopped.Load() {
			continue
		}
		if it.log && d.owner != nil {
			e.log(d.owner.logger())
		}
		if d.handler != nil {
			d.callHandler(d.handler, e)
		}
	}
	clear(b.items[:b.n]) // delivered events must not stay reachable
	clear(b.full)
	b.n, b.full = 0, b.full[:0]
}

// incEvent builds the Event of an item recorded by reference: an
// incarnation's start, or its end, whose Err it carries.
func (it *dispatchItem) incEvent() Event {
	inc := it.inc
	e := Event{
		Time: it.at, Supervisor: inc.r.path, Child: inc.c.spec.Name,
		Kind: EventKind(it.kind), Restarts: int(it.restarts),
	}
	if e.Kind == EventChildFailed || e.Kind == EventChildExited {
		e.Err = inc.err
	}
	return e
}

// callHandler keeps a panicking handler from killing the delivery
// goroutine, and with it every later event, and reports the panic: a
// handler's bug must not pass unnoticed.
func (d *dispatcher) callHandler(h func(Event), e Event) {
	defer func() {
		if v := recover(); v != nil {
			pe := NewPanicError(v)
			var l *slog.Logger
			if d.owner != nil {
				l = d.owner.logger()
			} else {
				l = slog.Default()
			}
			l.LogAttrs(context.Background(), slog.LevelError, "event handler panicked",
				slog.String("supervisor", e.Supervisor), slog.String("child", e.Child),
				slog.String("event", e.Kind.String()), slog.Any("panic", v),
				slog.String("at", pe.At()), slog.String("stack", pe.Stack()))
		}
	}()
	h(e)
}

func (d *dispatcher) signalIdle() {
	if d.waiting > 0 {
		d.idle.Broadcast()
	}
}

// drain waits until every queued event has been delivered (and, once the
// dispatcher is closed, until its goroutine has exited). Called from a
// delivery goroutine (a handler stopping a supervisor, or cancelling its
// own subscription) it returns at once: waiting there would wait for
// itself. Callers check that with onDeliverer, once for a whole tree.
func (d *dispatcher) drain() {
	d.mu.Lock()
	if d.owed { // a held wake-up (holdWakes) is paid before waiting for it
		d.owed, d.parked = false, false
		d.mu.Unlock()
		d.wake <- struct{}{}
		d.mu.Lock()
	}
	for d.head != nil || d.busy || (d.running && !d.open) {
		if d.idle == nil {
			d.idle = sync.NewCond(&d.mu)
		}
		d.waiting++
		d.idle.Wait()
		d.waiting--
	}
	d.mu.Unlock()
}

// deliveryLoop is the name of (*dispatcher).loop in tracebacks.
const deliveryLoop = "github.com/airssys/rt/supervisor.(*dispatcher).loop"

// onDeliverer reports whether the caller runs on a delivery goroutine,
// inside a handler. Go has no goroutine-local state; this walks the
// caller's stack for the delivery loop instead, which costs a few
// microseconds and is done only on Stop, Serve's end and a subscription's
// cancel, never on the path of an event.
func onDeliverer() bool { return onStack(deliveryLoop) }

// onStack reports whether the function named fn is on the caller's stack.
func onStack(fn string) bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(2, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function == fn {
			return true
		}
		if !more {
			return false
		}
	}
}

// openEvents opens or closes the dispatchers this supervisor owns: its own
// and its subscribers'. s.mu is held, so that Subscribe, which opens a new
// subscriber's dispatcher when s runs, agrees with the run's start and end.
func (s *Supervisor) openEvents(open bool) {
	s.events.setOpen(open)
	if subs := s.subs.Load(); subs != nil {
		for _, sub := range *subs {
			sub.events.setOpen(open)
		}
	}
}

// subscribed opens a new subscriber's dispatcher if s runs.
func (s *Supervisor) subscribed(sub *subscriber) {
	sub.events.owner = s
	s.mu.Lock()
	if s.phase == running {
		sub.events.setOpen(true)
	}
	s.mu.Unlock()
}

// unsubscribed closes a cancelled subscriber's dispatcher and waits for
// its handler to be done (at once when called from a handler).
func (sub *subscriber) unsubscribed() {
	sub.events.stopped.Store(true)
	sub.events.setOpen(false)
	if !onDeliverer() {
		sub.events.drain()
	}
}
