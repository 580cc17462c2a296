package supervisor

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
)

// dispatcher delivers events off the emitting goroutine, in order, so
// that a slow handler or a slow log sink never stalls supervision.
//
// It has one delivery goroutine, started by the first event and kept,
// parked between bursts, while the supervisor that owns the dispatcher
// runs (open). When the supervisor ends (closed), the goroutine delivers
// what is queued and exits, so no goroutine of the library outlives its
// tree; an event that arrives while closed (from a descendant left
// running) gets a goroutine for its burst only.
//
// An event is emitted on the supervisor's restart path, so it must cost
// its emitter little (issue 10.6). It is written in place into a queue
// block, and one word, pub, both orders the emitters and publishes: an
// emitter sets its lock bit with a compare-and-swap, writes the event
// into the slot the count names, and stores the count plus one, which
// frees the bit. That is two atomic operations, on a cache line that only
// emitters write (in practice the supervisor's own goroutine, so it stays
// in that core's cache), and no sync.Mutex, whose lock and unlock are
// three. The delivery goroutine reads pub and the slots below it without
// a lock. An atomic state word says whether that goroutine is running
// (then the emitter does nothing more), parked (the emitter wakes it: once
// per burst) or gone (the emitter starts it); it is the actor mailbox's
// protocol. Before it parks, the goroutine yields a few times, so that a
// burst that goes on (a restart is a failure and then a start) finds it
// awake and costs no wake-up.
type dispatcher struct {
	owner *Supervisor // whose logger reports a handler's panic

	// The emitters' side: written by emitters, holding pub's lock bit.
	pub   atomic.Uint64 // events published so far, times two; +1 while an emitter writes
	tail  *eventBlock   // the block being filled; nil before the first event
	spare *eventBlock   // empty blocks to fill next, taken from freed
	wake  chan struct{} // one slot; made with the first block

	_ [64]byte // keep the delivery goroutine's writes off the emitters' line

	// The delivery goroutine's side (handed from one such goroutine to the
	// next through state).
	state   atomic.Uint32 // dispIdle, dispRunning or dispParked
	head    *eventBlock   // the block being delivered; set by the first event
	hi      int           // the next item of head to deliver
	lo      int           // the first item of head delivered and not yet cleared
	done    uint64        // events delivered (or skipped) so far
	nfreed  int           // blocks in freed, as far as this side knows
	open    atomic.Bool   // its owner runs: park when idle rather than exit
	stopped atomic.Bool   // a cancelled subscription: deliver nothing more

	freed atomic.Pointer[eventBlock] // delivered blocks, for emitters to reuse

	mu      sync.Mutex   // for drain only
	idle    *sync.Cond   // broadcast when the goroutine parks or exits; nil until drain needs it
	waiting atomic.Int32 // callers of drain waiting on idle
}

// The states of a dispatcher's delivery goroutine.
const (
	dispIdle    = iota // none: the next event starts one
	dispRunning        // delivering, or about to look at the queue once more before parking
	dispParked         // waiting on wake; the next event sends to it
)

type dispatchItem struct {
	e       Event
	logger  *slog.Logger // nil: do not log
	handler func(Event)  // nil: no handler
}

// eventBlock is a piece of a dispatcher's queue. Events are written in
// place, in blocks that are reused: a queue that grows while the delivery
// goroutine waits for a processor (on a busy machine it may run once per
// hundreds of events) never copies what it holds.
type eventBlock struct {
	next  *eventBlock // the block after this one; written before the first event in it is published
	free  *eventBlock // link in freed and spare
	items [eventBlockLen]dispatchItem
}

const (
	eventBlockLen = 16 // about 2.5 KB a block
	maxFreeBlocks = 32 // blocks kept in freed after a burst (and as many in spare at most)

	// lingerYields is how often the delivery goroutine yields, finding
	// nothing, before it parks: about 1-3 µs on an idle processor, longer
	// than the gap between the events of a restart and than a restart.
	lingerYields = 16
)

// push queues an event for the handler or logger (either may be nil).
func (d *dispatcher) push(e *Event, logger *slog.Logger, handler func(Event)) {
	p := d.pub.Load()
	if p&1 != 0 || !d.pub.CompareAndSwap(p, p|1) {
		p = d.lockSlow()
	}
	k := p >> 1
	i := int(k % eventBlockLen)
	t := d.tail
	if i == 0 {
		b := d.takeBlock()
		if t == nil {
			// The first event: no delivery goroutine has run yet.
			d.head = b
			d.wake = make(chan struct{}, 1)
		} else {
			t.next = b
		}
		d.tail, t = b, b
	}
	it := &t.items[i]
	it.e, it.logger, it.handler = *e, logger, handler
	d.pub.Store((k + 1) << 1)
	d.kick()
}

// lockSlow sets pub's lock bit when another emitter holds it: a spawn on
// the lane or a health check emitting while the supervisor's goroutine
// does. The holder only copies an event, so waiting is short.
func (d *dispatcher) lockSlow() uint64 {
	for {
		runtime.Gosched()
		p := d.pub.Load()
		if p&1 == 0 && d.pub.CompareAndSwap(p, p|1) {
			return p
		}
	}
}

// kick makes sure a delivery goroutine will see what was just published.
func (d *dispatcher) kick() {
	switch d.state.Load() {
	case dispParked:
		if d.state.CompareAndSwap(dispParked, dispRunning) {
			d.wake <- struct{}{} // never blocks: one slot, one send per park
		}
	case dispIdle:
		if d.state.CompareAndSwap(dispIdle, dispRunning) {
			go d.loop()
		}
	}
	// dispRunning: the goroutine looks at pub after it stores a new state
	// and before it parks or exits.
}

// takeBlock returns an empty block, a reused one if there is one. Its
// caller holds pub's lock bit.
func (d *dispatcher) takeBlock() *eventBlock {
	if d.spare == nil {
		d.spare = d.freed.Swap(nil)
	}
	b := d.spare
	if b == nil {
		return new(eventBlock)
	}
	d.spare, b.free = b.free, nil
	return b
}

// release hands a delivered block back to the emitters, or to the
// garbage collector when enough are kept. Delivery goroutine only.
func (d *dispatcher) release(b *eventBlock) {
	clear(b.items[:]) // a delivered event must not stay reachable
	b.next = nil
	old := d.freed.Load()
	if old == nil {
		d.nfreed = 0 // the emitters took the list
	}
	if d.nfreed >= maxFreeBlocks {
		return
	}
	for {
		b.free = old
		if d.freed.CompareAndSwap(old, b) {
			d.nfreed++
			return
		}
		if old = d.freed.Load(); old == nil {
			d.nfreed = 0
		}
	}
}

func (d *dispatcher) setOpen(open bool) {
	d.open.Store(open)
	if !open && d.state.CompareAndSwap(dispParked, dispRunning) {
		d.wake <- struct{}{} // let it exit
	}
}

// loop is the delivery goroutine. Its name is known to onDeliverer.
func (d *dispatcher) loop() {
	yields := 0
	for {
		if d.deliverQueued() {
			yields = 0
			continue
		}
		if yields < lingerYields && d.open.Load() {
			// Events come in bursts (a restart is a failure and a start):
			// let the rest of the burst come before parking, which spares
			// the emitter a wake-up.
			yields++
			runtime.Gosched()
			continue
		}
		yields = 0
		d.forget()
		if d.open.Load() {
			d.state.Store(dispParked)
			if d.queued() || !d.open.Load() {
				if !d.state.CompareAndSwap(dispParked, dispRunning) {
					<-d.wake // an emitter took it out of parking: take its send
				}
				continue
			}
			d.signalIdle()
			<-d.wake // whoever sent set the state to running
			continue
		}
		done := d.done // once idle, the fields of this side may pass to a new goroutine
		d.state.Store(dispIdle)
		if d.pub.Load()>>1 > done && d.state.CompareAndSwap(dispIdle, dispRunning) {
			continue // an emitter came after the last look, and started no goroutine
		}
		d.signalIdle()
		return
	}
}

// forget clears the delivered events of the block being delivered, before
// the goroutine parks or exits (a delivered event must not stay
// reachable). Clearing each as it is delivered would write to the cache
// lines an emitter is writing the next events to.
func (d *dispatcher) forget() {
	clear(d.head.items[d.lo:d.hi])
	d.lo = d.hi
}

// queued reports whether events wait for delivery. Delivery goroutine only.
func (d *dispatcher) queued() bool { return d.pub.Load()>>1 > d.done }

// deliverQueued delivers what is published and reports whether there was
// anything.
func (d *dispatcher) deliverQueued() bool {
	n := d.pub.Load() >> 1
	if n == d.done {
		return false
	}
	for ; d.done < n; d.done++ {
		if d.hi == eventBlockLen {
			b := d.head
			d.head, d.hi, d.lo = b.next, 0, 0
			d.release(b)
		}
		it := &d.head.items[d.hi]
		d.hi++
		if !d.stopped.Load() {
			d.deliver(it)
		}
	}
	return true
}

func (d *dispatcher) deliver(it *dispatchItem) {
	if it.logger != nil {
		it.e.log(it.logger)
	}
	if it.handler != nil {
		d.callHandler(it.handler, it.e)
	}
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
	if d.waiting.Load() > 0 {
		d.mu.Lock()
		d.idle.Broadcast()
		d.mu.Unlock()
	}
}

// settled reports whether the queue is delivered and, once the dispatcher
// is closed, its goroutine gone.
func (d *dispatcher) settled() bool {
	switch d.state.Load() {
	case dispIdle:
		return true
	case dispParked:
		return d.open.Load()
	}
	return false
}

// drain waits until every queued event has been delivered (and, once the
// dispatcher is closed, until its goroutine has exited). Called from a
// delivery goroutine (a handler stopping a supervisor, or cancelling its
// own subscription) it returns at once: waiting there would wait for
// itself. Callers check that with onDeliverer, once for a whole tree.
func (d *dispatcher) drain() {
	if d.settled() {
		return
	}
	d.mu.Lock()
	if d.idle == nil {
		d.idle = sync.NewCond(&d.mu)
	}
	d.waiting.Add(1)
	for !d.settled() {
		d.idle.Wait()
	}
	d.waiting.Add(-1)
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
