package supervisor

// The lane: dynamic children started and ended without the control loop
// (the package documentation, "Many dynamic children: the lane", says what
// users see). Internals:
//
//   - The family's mu guards the name table (byName), which the lane and
//     the loop share, and the lane's list. The loop's ordered list stays
//     the loop's alone.
//   - A lane start reserves the name (state ChildStarting, on no list,
//     invisible to lookups), calls New unlocked, then links the running
//     child onto the lane, unless the lane closed meanwhile.
//   - The loop takes a lane child (claimLocked) before it touches it; after
//     that the child's exit goes to the loop as any other. Every child has
//     a seq, its place in start order, so the taken child goes where it
//     belongs in the ordered list.
//   - The shutdown closes the lane first and takes all its children.

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// chain is an intrusive list of child records in start order, through
// their prev and next: the family's ordered list and the lane are each
// one, so that moving a child between them, or removing it, costs nothing
// per sibling.
type chain struct {
	head, tail *child
	n          int
}

// push links c, on no list, at the end.
func (l *chain) push(c *child) { l.insertBefore(c, nil) }

// insertBefore links c, on no list, before p (nil: at the end).
func (l *chain) insertBefore(c, p *child) {
	c.next = p
	if p != nil {
		c.prev, p.prev = p.prev, c
	} else {
		c.prev, l.tail = l.tail, c
	}
	if c.prev != nil {
		c.prev.next = c
	} else {
		l.head = c
	}
	l.n++
}

// unlink takes c off the list.
func (l *chain) unlink(c *child) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.n--
}

// lane holds the running lane children, in start order; guarded by the
// family's mu, except open.
type lane struct {
	chain
	run     *run                // the run whose lane is open; nil: closed
	open    atomic.Pointer[run] // run, readable without the mutex
	exiting int                 // lane exits whose events the reaper has yet to emit
	idle    *sync.Cond          // broadcast when exiting or reaping may have dropped, with waiting > 0
	waiting int
	cold    atomic.Pointer[coldSpec] // the last actor spawn's (see laneCold)
	clock   laneClock
}

// laneClock is the wall clock of lane starts (a child's since), read with
// one monotonic clock reading instead of time.Now's two (wall and
// monotonic): each is a vDSO call of 20-40 ns on the VMs this runs on, for
// every spawn. It adds the monotonic time elapsed since a base reading
// of time.Now to that reading's wall time, and takes a new base once
// clockRefresh has passed, so that a step of the wall clock (NTP, an
// administrator) is followed within that time, as time.Now follows it.
type laneClock struct {
	base atomic.Pointer[clockBase]
}

type clockBase struct {
	t    time.Time // with its monotonic reading
	wall int64     // t.UnixNano()
}

// clockRefresh bounds how long laneClock goes without reading the wall
// clock.
const clockRefresh = time.Millisecond

// unixNano is time.Now().UnixNano(), within the drift between the wall
// and the monotonic clocks over at most clockRefresh.
func (l *laneClock) unixNano() int64 {
	if b := l.base.Load(); b != nil {
		if d := time.Since(b.t); d >= 0 && d < clockRefresh {
			return b.wall + int64(d)
		}
	}
	t := time.Now()
	b := &clockBase{t: t, wall: t.UnixNano()}
	l.base.Store(b)
	return b.wall
}

// openLane opens the lane of run r: its children have started and it
// supervises. Only OneForOne supervisors have a lane: the other strategies
// restart siblings by their order, which the loop alone keeps.
func (r *run) openLane() {
	if r.s.strategy != OneForOne {
		return
	}
	f := r.f
	f.mu.Lock()
	f.lane.run = r
	f.lane.open.Store(r)
	f.mu.Unlock()
}

// closeLane closes the lane and takes every child on it into the ordered
// list, where the shutdown finds them. A child still starting on the lane
// is not taken: its StartChild finds the lane closed and fails with
// ErrStopped.
func (r *run) closeLane() {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lane.run != r {
		return
	}
	f.lane.run = nil
	f.lane.open.Store(nil)
	for r.entering.Load() != 0 {
		runtime.Gosched() // a laneExit that saw the lane open: a few instructions
	}
	p := f.head
	for c := f.lane.head; c != nil; {
		next := c.next
		for p != nil && p.seq < c.seq {
			p = p.next
		}
		f.insertBefore(c, p)
		c = next
	}
	f.lane.head, f.lane.tail, f.lane.n = nil, nil, 0
	// The reaper emits the events of lane exits before the supervisor's
	// stopped event: no exit can begin now, and the reaper runs no user
	// code before it has emitted them, so this wait is short.
	for f.lane.exiting > 0 {
		f.waitLocked()
	}
}

// insertBefore links c (on no list) into the ordered list before p (nil:
// at the end).
func (f *family) insertBefore(c, p *child) {
	if c.lane { // written only under mu; append's new child is off the lane already
		c.lane = false
	}
	f.chain.insertBefore(c, p)
}

// claimLocked takes c off the lane, if it is there, into the ordered list
// at its place by start order; f.mu is held and the caller is the loop.
func (f *family) claimLocked(c *child) {
	if !c.lane {
		return
	}
	f.lane.unlink(c)
	p := f.tail
	for p != nil && p.seq > c.seq {
		p = p.prev
	}
	if p == nil {
		f.insertBefore(c, f.head)
	} else {
		f.insertBefore(c, p.next)
	}
}

// claim is claimLocked for the loop, which does not hold f.mu.
func (f *family) claim(c *child) {
	f.mu.Lock()
	f.claimLocked(c)
	f.mu.Unlock()
}

// unreserve releases the name a lane start reserved for c.
func (f *family) unreserve(c *child) {
	f.mu.Lock()
	f.byName.remove(c)
	f.mu.Unlock()
}

// startLane starts spec on the caller's goroutine if it is eligible (see
// the top of this file). It reports whether it handled the call; if not,
// made is what New returned, if it ran, for the loop to start.
//
// guard, if not nil, is called under f.mu with the Source of the child
// holding spec's name (nil if none) before the start takes the name; its
// error fails the start unchanged (see StartLaneChild).
func (s *Supervisor) startLane(spec *Spec, guard func(name string, holder any) error) (handled bool, made Child, err error) {
	f := &s.children
	r := f.lane.open.Load()
	if r == nil || spec.sup != nil || spec.Significant || spec.Health != (HealthPolicy{}) {
		return false, nil, nil
	}
	c, err := newChild(s, spec)
	if err != nil {
		return true, nil, err
	}
	return s.startLaneRecord(r, c, guard)
}

// startLaneRecord is startLane once the record of the child is made: c,
// on the lane of run r, as it was open when its spec was checked.
func (s *Supervisor) startLaneRecord(r *run, c *child, guard func(name string, holder any) error) (handled bool, made Child, err error) {
	f := &s.children
	spec := &c.spec
	f.mu.Lock()
	if f.lane.run != r {
		f.mu.Unlock()
		return false, nil, nil
	}
	old := f.byName.reserve(c)
	if guard != nil {
		var holder any
		if old != nil {
			holder = old.spec.src
		}
		if err := guard(spec.Name, holder); err != nil {
			if old == nil {
				f.byName.remove(c)
			}
			f.mu.Unlock()
			return true, nil, err
		}
	}
	if old != nil {
		onLane := old.lane // under mu: the loop writes it there
		f.mu.Unlock()
		if onLane {
			return true, nil, r.errf(spec.Name, ErrAlreadyStarted)
		}
		return false, nil, nil // the loop knows whether it runs
	}
	c.lane, c.seq = true, f.seq.Add(1)
	c.setState(ChildStarting)
	f.mu.Unlock()

	inst, err := callNew(c.spec.src)
	if err != nil {
		return true, nil, r.laneStartFailed(c, nil, err)
	}
	if _, ok := inst.(Starter); ok {
		f.unreserve(c)
		return false, inst, nil
	}
	if _, ok := inst.(*Supervisor); ok {
		f.unreserve(c)
		return false, inst, nil
	}
	inc := &c.first // zero: c is new; set field by field, not by a copy of the whole
	inc.c, inc.inst, inc.r, inc.lane = c, inst, r, laneStarted
	if c.restart() == Temporary {
		inc.lane = laneTemporary
	}
	now := f.lane.clock.unixNano()
	f.mu.Lock()
	if f.lane.run != r {
		// The supervisor began to stop while New ran: the start fails, and
		// what New made (a Source's resource, say) is disposed as after
		// any start that fails past New, here since the shutdown, which
		// does not wait for New, never saw the child.
		f.byName.remove(c)
		f.mu.Unlock()
		err := fmt.Errorf("supervisor %s: %w", r.path, ErrStopped)
		disposeFor(c, err)
		return true, nil, err
	}
	c.inc = inc
	c.setState(ChildRunning) // under mu: lookup reads state
	c.since = now
	f.lane.push(c)
	f.size.Add(1)
	f.mu.Unlock()
	// Emitted before the launch: the child may end at once, and its exit
	// events must follow this one. Built only if wanted: an Event is
	// 130-odd bytes to fill and copy, for every spawn.
	if r.listened(EventChildStarted) {
		r.emit(Event{Time: time.Unix(0, now), Kind: EventChildStarted, Child: c.spec.Name})
	}
	if l, ok := inst.(Launcher); ok {
		if err := callLaunch(l, inc); err != nil {
			return true, nil, r.laneLaunchFailed(c, inc, err)
		}
		return true, nil, nil
	}
	go inc.serve(r)
	return true, nil, nil
}

// laneStartFailed reports a lane child that failed to start, as the loop
// reports a dynamic child's start failure: the events, and its Dispose
// hook on the caller's goroutine.
func (r *run) laneStartFailed(c *child, inc *incarnation, err error) error {
	if inc != nil {
		inc.cancel()
	}
	c.inc, c.since = nil, 0
	c.setLastErr(err)
	// Emitted while the name is still reserved: a child started next
	// under it must not be seen started before this one is seen removed.
	r.emit(Event{Kind: EventChildStartFailed, Child: c.spec.Name, Err: err})
	r.emit(Event{Kind: EventChildRemoved, Child: c.spec.Name})
	f := r.f
	f.mu.Lock()
	c.setState(ChildStopped)
	f.byName.remove(c)
	f.mu.Unlock()
	dispose(c)
	return fmt.Errorf("supervisor %s: start child %q: %w", r.path, c.spec.Name, err)
}

// laneLaunchFailed handles a Launch that panicked. If the loop has taken
// the child meanwhile (to stop it), it gets the failure as the exit it
// waits for; if the Launch reported the child's end before panicking,
// that exit removes it as any other.
func (r *run) laneLaunchFailed(c *child, inc *incarnation, err error) error {
	f := r.f
	f.mu.Lock()
	// Taking the exit (recordExit) decides who removes the child: a Launch
	// may have reported the child's end before it panicked, and then the
	// reaper or the loop removes it, and must be the only one to.
	if !c.lane || !inc.recordExit(err) {
		f.mu.Unlock()
		inc.exit(r, err) // to the loop that took it; nothing if it has exited
		return fmt.Errorf("supervisor %s: start child %q: %w", r.path, c.spec.Name, err)
	}
	f.lane.unlink(c)
	c.setState(ChildStarting) // the name reserved until laneStartFailed's events are out
	f.size.Add(-1)
	f.mu.Unlock()
	return r.laneStartFailed(c, inc, err)
}

// laneExit hands the exit of a Temporary lane child (inc.lane is
// laneTemporary: its callers check) to the run's reaper, which removes it
// where it is still on the lane, and gives the loop the exits of children
// the loop has taken meanwhile. It reports false if the lane has closed:
// the exit then goes to the loop, as any other child's.
//
// It does as little as it can, and nothing that may call deep: this is the
// child's goroutine (an actor's activation, started with a small stack for
// one message, already deep in it here), and a deeper call (a contended
// mutex, growing a slice, building events) grows that stack, a copy that
// costs more than all the rest of the exit. Hence a lock-free push of a
// 16-byte node rather than the family's mutex (such an allocation refills
// its span, the deep path, once in hundreds).
func (r *run) laneExit(inc *incarnation) bool {
	// Once the lane is closed, exits go to the loop, which waits for them;
	// entering lets closeLane wait for the ones that saw it open, so that
	// no reaper starts after the supervisor has stopped.
	r.entering.Add(1)
	if r.f.lane.open.Load() != r {
		r.entering.Add(-1)
		return false
	}
	d := &deadExit{inc: inc} // small: allocating it does not grow the stack
	for {
		d.next = r.dead.Load()
		if r.dead.CompareAndSwap(d.next, d) {
			break
		}
	}
	if r.reaping.CompareAndSwap(false, true) {
		go r.reap()
	}
	r.entering.Add(-1)
	return true
}

// deadExit is an exit in the reaper's stack. It is made per exit, rather
// than linked through the incarnation, to keep the record of every idle
// child a word smaller.
type deadExit struct {
	inc  *incarnation
	next *deadExit
}

// reap is the run's reaper. For the exits laneExit pushed, in order: a
// child still on the lane is taken off it, its ctx cancelled, its events
// emitted, its name deleted and its Dispose hook run; one the loop has
// taken meanwhile gets its exit pushed to the loop, which waits for it.
// It exits when there are none left. Its name is known to drainLane.
func (r *run) reap() {
	f := r.f
	var batch []*incarnation
	yielded := false
	for {
		top := r.dead.Swap(nil)
		if top == nil && !yielded {
			// Exits come in streams (a thousand actors doing one job
			// each): let the next ones come before exiting, which spares
			// a goroutine per exit.
			yielded = true
			runtime.Gosched()
			continue
		}
		yielded = false
		if top == nil {
			f.mu.Lock()
			r.reaping.Store(false)
			if f.lane.waiting > 0 {
				f.lane.idle.Broadcast()
			}
			f.mu.Unlock()
			if r.dead.Load() == nil || !r.reaping.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		batch = batch[:0]
		for d := top; d != nil; d = d.next {
			batch = append(batch, d.inc)
		}
		slices.Reverse(batch) // pushed newest first
		n := 0
		f.mu.Lock()
		for _, inc := range batch {
			c := inc.c
			if !c.lane || c.inc != inc {
				// Taken by the loop, which stops it or handles its exit.
				r.in.push(msg{op: opExit, inc: inc})
				continue
			}
			f.lane.unlink(c)
			f.size.Add(-1)
			// The name stays reserved (as by a lane start: lookups do not
			// find it, starts are refused) until its removal events are
			// out, so that a child started next under it is not seen
			// started before this one is seen removed.
			c.inc, c.since = nil, 0
			c.setState(ChildStarting)
			batch[n] = inc
			n++
		}
		f.lane.exiting += n
		f.mu.Unlock()
		if n == 0 {
			// Only exits the loop took: nothing to emit. The run may have
			// ended (this goroutine outlives it while it runs Dispose
			// hooks), and the next run writes what listened reads.
			continue
		}
		gone := batch[:n]
		listened := r.listened(EventChildExited) // Debug: if so, Info events are too
		for _, inc := range gone {
			inc.cancel()
			kind := EventChildExited
			if !isNormal(inc) {
				kind = EventChildFailed
			}
			if listened || kind == EventChildFailed && r.listened(kind) {
				now := time.Now()
				r.emit(Event{Time: now, Kind: kind, Child: inc.c.spec.Name, Err: inc.err})
				r.emit(Event{Time: now, Kind: EventChildRemoved, Child: inc.c.spec.Name})
			}
		}
		f.mu.Lock()
		for _, inc := range gone {
			c := inc.c
			c.setState(ChildStopped)
			f.byName.remove(c)
		}
		f.lane.exiting -= n
		if f.lane.waiting > 0 {
			f.lane.idle.Broadcast()
		}
		f.mu.Unlock()
		for i, inc := range gone {
			disposeFor(inc.c, inc.err) // not c.lastErr: the record is gone
			gone[i] = nil
		}
	}
}

// listened reports whether an event of kind k would be logged or handled:
// the reaper skips building events nobody wants.
func (r *run) listened(k EventKind) bool {
	s := r.s
	if s.logger().Enabled(context.Background(), Event{Kind: k}.LogLevel()) {
		return true
	}
	for p := s; p != nil; p = p.parent {
		if p.cfg.handler != nil {
			return true
		}
		if subs := p.subs.Load(); subs != nil && len(*subs) > 0 {
			return true
		}
	}
	return false
}

func (f *family) waitLocked() {
	if f.lane.idle == nil {
		f.lane.idle = sync.NewCond(&f.mu)
	}
	f.lane.waiting++
	f.lane.idle.Wait()
	f.lane.waiting--
}

// reaperFunc is the name of (*family).reap in tracebacks: a Dispose hook
// it runs may stop its own supervisor, which must not wait for the hook.
const reaperFunc = "github.com/airssys/rt/supervisor.(*run).reap"

// drainLane waits until the reaper of the current run, if any, has run
// the Dispose hooks of the lane children that ended.
func (s *Supervisor) drainLane() {
	s.mu.Lock()
	r := s.run
	s.mu.Unlock()
	if r == nil || !r.reaping.Load() || onStack(reaperFunc) {
		return
	}
	f := r.f
	f.mu.Lock()
	for r.reaping.Load() {
		f.waitLocked()
	}
	f.mu.Unlock()
}
