package actor

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// Overflow is what a bounded mailbox does with a message that finds it full.
type Overflow int

const (
	// Block makes Send wait for room (SendContext waits up to its ctx).
	// An actor that sends to itself, or to an actor waiting on it, can
	// deadlock this way: give such sends a SendContext deadline.
	Block Overflow = iota
	// DropNewest drops the incoming message: Send returns nil and the
	// message goes to dead letters with a reason wrapping ErrMailboxFull.
	DropNewest
	// DropOldest drops the oldest queued message to make room: Send returns
	// nil and the dropped one goes to dead letters (reason wraps
	// ErrMailboxFull).
	DropOldest
	// Fail makes Send return an error wrapping ErrMailboxFull; the message
	// is not a dead letter, since the sender still has it.
	Fail
)

// String returns the policy's name.
func (o Overflow) String() string {
	switch o {
	case Block:
		return "Block"
	case DropNewest:
		return "DropNewest"
	case DropOldest:
		return "DropOldest"
	case Fail:
		return "Fail"
	}
	return "Overflow(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText makes an Overflow read as its name in JSON.
func (o Overflow) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Mailbox describes an actor's queue: Unbounded() (the default) or
// Bounded(capacity, policy). The mailbox belongs to the actor, not to an
// incarnation: it survives restarts, and what is queued while the actor is
// not running is delivered when it runs again.
type Mailbox struct {
	capacity int // 0: unbounded
	policy   Overflow
	err      error // reported by Spec/Spawn, so a bad value never panics
}

// Unbounded is a mailbox that always accepts: Send never blocks nor fails
// while the actor lives. Memory is the only bound, so prefer Bounded for
// actors fed by sources they cannot slow down.
func Unbounded() Mailbox { return Mailbox{} }

// Bounded is a mailbox holding at most capacity queued messages (the one in
// Receive does not count; those put back at its head, see Context.Requeue,
// come on top); policy says what happens to one more. A
// capacity below one, or an unknown policy, makes Spec and Spawn fail with
// ErrInvalidSpec.
func Bounded(capacity int, policy Overflow) Mailbox {
	mb := Mailbox{capacity: capacity, policy: policy}
	switch {
	case capacity < 1 || capacity > math.MaxInt32:
		mb.err = fmt.Errorf("%w: mailbox capacity %d (want 1 to %d)", ErrInvalidSpec, capacity, math.MaxInt32)
	case policy < Block || policy > Fail:
		mb.err = fmt.Errorf("%w: mailbox overflow policy %v", ErrInvalidSpec, policy)
	}
	return mb
}

// Capacity returns the bound, or 0 for an unbounded mailbox.
func (m Mailbox) Capacity() int { return m.capacity }

// Policy returns the overflow policy of a bounded mailbox.
func (m Mailbox) Policy() Overflow { return m.policy }

// String returns "Unbounded" or "Bounded(capacity, policy)".
func (m Mailbox) String() string {
	if m.capacity == 0 {
		return "Unbounded"
	}
	return "Bounded(" + strconv.Itoa(m.capacity) + ", " + m.policy.String() + ")"
}

// send queues msg under the mailbox's policy; ctx bounds a Block wait.
func (c *cell[M]) send(ctx context.Context, msg M) error {
	if c.capacity == 0 {
		return c.sendUnbounded(msg)
	}
	return c.sendBounded(ctx, msg)
}

// sendUnbounded queues msg in the lock-free inbox: senders take no lock
// and never wait on one another. The stop is checked before and after:
// a message that lands after dispose took what was queued is found by its
// own sender and goes to dead letters, as if it had been queued at the stop.
func (c *cell[M]) sendUnbounded(msg M) error {
	if c.stopped() {
		c.deadLetter(msg, errSentAfterStop)
		return fmt.Errorf("actor %q: send: %w", c.name, ErrStopped)
	}
	i := c.inPush(msg)
	c.queued(i)
	return nil
}

// queued follows the write of the message of index i into the inbox: it
// finds a stop that came meanwhile, and starts an activation if none owns
// the cell.
func (c *cell[M]) queued(i uint64) {
	st := c.state.Load()
	switch {
	case st&stClosed != 0:
		c.mu.Lock()
		queued := c.takeAllLocked()
		c.mu.Unlock()
		for _, m := range queued {
			c.deadLetter(m, errQueuedAtStop)
		}
	case st&stHasInc == 0:
		// Between incarnations: the message waits for the next one.
	case st&stActive == 0:
		if c.activate() {
			go c.run()
		}
	case (i+1)&(yieldEvery-1) == 0 && c.inLen() > yieldAbove:
		// The actor falls behind its senders: now and then, give it the
		// processor rather than grow the backlog (see yieldAbove).
		// Nothing blocks.
		runtime.Gosched()
	}
}

// A bounded mailbox queues in the same lock-free inbox as an unbounded
// one: a sender claims its slot with one compare-and-swap on c.tail, made
// only while fewer than capacity messages are claimed and not yet taken
// (c.tail - c.head) or in the activation's batch (the hand), so senders
// with room never wait on one another nor on the actor. Only a sender
// that finds it full goes further, under its policy. Messages put back at
// the head (Requeue, a batch taken before a stop) sit outside the bound:
// they were counted in when they were sent.
//
// A Block sender that finds it full queues itself with its message
// (blockedSend, under c.mu) and parks. Whoever next holds c.mu and finds
// room (the activation, at each look into the mailbox, as each message of
// its batch goes to Receive, and at its end, or another sender) moves the queued messages into it, oldest first, and
// tells their senders that their Send is done: as a channel's receiver
// hands a parked sender's value to its buffer, so the mailbox stays full
// for the actor while its senders sleep, and each freed slot wakes one
// sender, not all of them. While senders wait, new ones queue behind them
// rather than take room first, so each sender's wait is bounded by the
// ones ahead.

// sendBounded queues msg in a bounded mailbox under its policy.
func (c *cell[M]) sendBounded(ctx context.Context, msg M) error {
	if c.stopped() {
		c.deadLetter(msg, errSentAfterStop)
		return fmt.Errorf("actor %q: send: %w", c.name, ErrStopped)
	}
	if r := c.rare.Load(); r == nil || r.waiting.Load() == 0 {
		if i, ok := c.inReserve(); ok {
			c.inWrite(i, msg)
			c.queued(i)
			return nil
		}
	}
	switch c.policy() {
	case Fail:
		return fmt.Errorf("actor %q: send: %w", c.name, ErrMailboxFull)
	case DropNewest:
		c.deadLetter(msg, errDroppedNewest)
		return nil
	case DropOldest:
		return c.sendDropOldest(msg)
	}
	return c.sendBlock(ctx, msg)
}

// inReserve claims the next index of a bounded mailbox's inbox if it has
// room, and reports whether it did.
func (c *cell[M]) inReserve() (uint64, bool) {
	limit := int64(c.capacity)
	for {
		t := c.tail.Load()
		// Signed: the head read after the tail may be past it. The
		// hand is read after the head, which moves after it (inPopInto).
		if int64(t-c.head.Load())+int64(c.inHand()) >= limit {
			return 0, false
		}
		if c.tail.CompareAndSwap(t, t+1) {
			return t, true
		}
	}
}

// sendDropOldest makes room for msg by dropping the inbox's oldest
// messages, under c.mu (the activation's side of the inbox), until a slot
// is its own.
func (c *cell[M]) sendDropOldest(msg M) error {
	for {
		c.mu.Lock()
		if c.stopped() {
			c.mu.Unlock()
			c.deadLetter(msg, errSentAfterStop)
			return fmt.Errorf("actor %q: send: %w", c.name, ErrStopped)
		}
		if i, ok := c.inReserve(); ok {
			c.inWrite(i, msg)
			c.mu.Unlock()
			c.queued(i)
			return nil
		}
		var old [1]M
		n := c.inPopInto(old[:], -1)
		c.mu.Unlock()
		if n == 0 {
			runtime.Gosched() // the oldest's sender is still writing it
			continue
		}
		c.deadLetter(old[0], errDroppedOldest)
	}
}

// blockedSend is a Block sender waiting for room, with its message.
type blockedSend[M any] struct {
	msg  M
	next *blockedSend[M]
	// done gets true once msg is queued (the Send succeeded), false if
	// the actor stopped for good first.
	done chan bool
}

// blockedQueue is the FIFO of a Block mailbox's waiting senders; its
// links are guarded by c.mu.
type blockedQueue[M any] struct {
	head, tail *blockedSend[M]
	free       sync.Pool // of *blockedSend[M], done empty
}

// blockedLocked returns the cell's queue of Block senders, made if need
// be. c.mu is held.
func (c *cell[M]) blockedLocked(r *cellRare) *blockedQueue[M] {
	if q, ok := r.blocked.(*blockedQueue[M]); ok {
		return q
	}
	q := new(blockedQueue[M])
	r.blocked = q
	return q
}

// sendBlock queues msg behind the senders already waiting, and waits for
// its turn, or for ctx, or for the stop.
func (c *cell[M]) sendBlock(ctx context.Context, msg M) error {
	r := c.rareOf()
	c.mu.Lock()
	if c.stopped() {
		c.mu.Unlock()
		c.deadLetter(msg, errSentAfterStop)
		return fmt.Errorf("actor %q: send: %w", c.name, ErrStopped)
	}
	c.tookLocked() // room freed since the activation looked goes to those ahead
	if r.waiting.Load() == 0 {
		if i, ok := c.inReserve(); ok {
			c.mu.Unlock()
			c.inWrite(i, msg)
			c.queued(i)
			return nil
		}
	}
	q := c.blockedLocked(r)
	w, _ := q.free.Get().(*blockedSend[M])
	if w == nil {
		w = &blockedSend[M]{done: make(chan bool, 1)}
	}
	w.msg = msg
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	r.waiting.Add(1)
	// Look again, now that the activation can see this sender waiting
	// (see leftHand): room a message of its batch freed since the look
	// above is not lost.
	c.tookLocked()
	c.mu.Unlock()

	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	var in bool
	if done == nil {
		// Send, or a ctx that is never done: a plain receive, which
		// costs less than a select (selectgo was 3% of the fan-in's
		// CPU, its senders parking once every few messages).
		in = <-w.done
		return c.sentBlocked(q, w, msg, in)
	}
	select {
	case in = <-w.done:
	case <-done:
		c.mu.Lock()
		left := q.unlink(w)
		if left {
			r.waiting.Add(-1)
		}
		c.mu.Unlock()
		if left {
			w.msg = *new(M)
			q.free.Put(w)
			return fmt.Errorf("actor %q: send: %w", c.name, ctx.Err())
		}
		in = <-w.done // taken meanwhile: queued, or refused at the stop
	}
	return c.sentBlocked(q, w, msg, in)
}

// sentBlocked finishes the Send of a Block sender that waited as w: in
// says whether its message was queued, or refused at the stop.
func (c *cell[M]) sentBlocked(q *blockedQueue[M], w *blockedSend[M], msg M, in bool) error {
	q.free.Put(w)
	if !in {
		c.deadLetter(msg, errSentAfterStop)
		return fmt.Errorf("actor %q: send: %w", c.name, ErrStopped)
	}
	return nil
}

// unlink takes w out of the queue and reports whether it was there.
// c.mu is held.
func (q *blockedQueue[M]) unlink(w *blockedSend[M]) bool {
	var prev *blockedSend[M]
	for p := q.head; p != nil; prev, p = p, p.next {
		if p != w {
			continue
		}
		if prev == nil {
			q.head = p.next
		} else {
			prev.next = p.next
		}
		if q.tail == p {
			q.tail = prev
		}
		p.next = nil
		return true
	}
	return false
}

// pop takes the oldest waiting sender out of the queue. c.mu is held.
func (q *blockedQueue[M]) pop() *blockedSend[M] {
	w := q.head
	q.head = w.next
	if q.head == nil {
		q.tail = nil
	}
	w.next = nil
	return w
}

// tookLocked moves the messages of waiting Block senders into the room
// the mailbox has, oldest first, and tells each sender its Send is done.
// The activation calls it at each look into the mailbox (popLocked), as
// each message of its batch leaves the hand for Receive (leftHand), and
// at its end (runnable): what it took, and what it handled since, made
// room. c.mu is held.
func (c *cell[M]) tookLocked() {
	r := c.rare.Load()
	if r == nil || r.waiting.Load() == 0 {
		return
	}
	q := r.blocked.(*blockedQueue[M])
	var zero M
	for q.head != nil {
		i, ok := c.inReserve()
		if !ok {
			return
		}
		w := q.pop()
		r.waiting.Add(-1)
		c.inWrite(i, w.msg)
		w.msg = zero
		w.done <- true
	}
}

// refuseBlockedLocked tells every waiting Block sender that the actor
// stopped for good: their messages were never queued. c.mu is held.
func (c *cell[M]) refuseBlockedLocked(r *cellRare) {
	if r.waiting.Load() == 0 {
		return
	}
	q := r.blocked.(*blockedQueue[M])
	for q.head != nil {
		w := q.pop()
		r.waiting.Add(-1)
		w.done <- false
	}
}

// deep reports whether the activation's mailbox is deep enough that it
// yields only once every deepYieldEvery turns: more than deepAbove
// messages, or than half a bounded mailbox's capacity. A bounded mailbox
// that fills while its actor yields every turn spent about 9 of its 41 ns
// of CPU per message in the yields (FanIn, 4 senders, Bounded(1024,
// Block): 32-35 cpu-ns per message with this, raw channels 30-31).
func (c *cell[M]) deep() bool {
	limit := deepAbove
	if c.capacity != 0 {
		limit = min(limit, int(c.capacity)/2)
	}
	return c.inLen() > limit
}

// queuedLocked is how many messages wait in the mailbox; c.mu is held.
func (c *cell[M]) queuedLocked() int { return c.q.len() + c.inLen() }

// popLocked moves up to len(dst) of the oldest messages into dst, first
// those put back at the head, then the inbox's, for the activation: all
// but the first, which goes to Receive at once, are counted in hand. c.mu
// is held.
//
// A bounded mailbox takes those put back one at a time: they come on top
// of the bound, and counted in hand they would fill it, refusing messages
// that have room (and a DropOldest sender would find nothing to drop).
func (c *cell[M]) popLocked(dst []M) int {
	if c.capacity != 0 && c.q.len() > 0 {
		dst = dst[:1]
	}
	n := c.q.popInto(dst)
	if n < len(dst) {
		n += c.inPopInto(dst[n:], n)
	} else if n > 1 {
		c.takeHand(n - 1)
	}
	if c.capacity != 0 {
		c.tookLocked()
	}
	if c.state.Load()&stLookLocked != 0 && c.q.len() == 0 {
		// This look, under the lock, has taken what was put back and
		// seen the incarnation now current: lingering may take lock-free
		// again (see takeLingering).
		c.state.And(^stLookLocked)
	}
	return n
}

// takeAllLocked empties the mailbox and returns its messages in order;
// c.mu is held. Messages whose senders are still writing them stay: those
// senders see the stop and take them.
func (c *cell[M]) takeAllLocked() []M {
	out := c.q.takeAll()
	var buf [batchMax]M
	for {
		n := c.inClaimInto(buf[:])
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

// hasQueuedLocked reports whether a message is there to take; c.mu is held.
func (c *cell[M]) hasQueuedLocked() bool { return c.q.len() > 0 || c.inReady() }

// ring is a FIFO queue in a circular buffer: the messages put back at a
// mailbox's head, ahead of its inbox. It allocates nothing until the
// first message, so an actor that was never sent anything costs no buffer,
// and shrink lets a large buffer go when the actor goes idle, so a burst
// does not pin its memory for the actor's lifetime. It is not safe for
// concurrent use: the cell's mutex guards it.
type ring[M any] struct {
	buf  []M
	head int32
	n    int32
	peak int32 // the most queued since the last shrink
}

const (
	ringMin  = 4    // first allocation
	ringKeep = 1024 // shrink releases an empty buffer larger than this
)

// A nil *ring is an empty one: len, pop, popInto, shrink and takeAll
// accept it.

func (r *ring[M]) len() int {
	if r == nil {
		return 0
	}
	return int(r.n)
}

// push appends m, growing the buffer up to limit (0: no limit); the caller
// has checked that there is room.
func (r *ring[M]) push(m M, limit int) {
	if int(r.n) == len(r.buf) {
		r.grow(limit)
	}
	i := int(r.head + r.n)
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = m
	r.n++
	r.peak = max(r.peak, r.n)
}

// pushFront puts m back at the head: a message taken out for delivery that
// was not delivered. It may exceed a bounded mailbox's capacity, since the
// message was already counted in.
func (r *ring[M]) pushFront(m M) {
	if int(r.n) == len(r.buf) {
		r.grow(0)
	}
	r.head--
	if r.head < 0 {
		r.head += int32(len(r.buf))
	}
	r.buf[r.head] = m
	r.n++
	r.peak = max(r.peak, r.n)
}

// pop removes the oldest message.
func (r *ring[M]) pop() (M, bool) {
	var zero M
	if r == nil || r.n == 0 {
		return zero, false
	}
	m := r.buf[r.head]
	r.buf[r.head] = zero // let the message be collected once handled
	r.head++
	if int(r.head) == len(r.buf) {
		r.head = 0
	}
	r.n--
	if r.n == 0 {
		r.head = 0
	}
	return m, true
}

// popInto moves up to len(dst) of the oldest messages into dst and
// returns how many.
func (r *ring[M]) popInto(dst []M) int {
	n := 0
	for n < len(dst) {
		m, ok := r.pop()
		if !ok {
			break
		}
		dst[n] = m
		n++
	}
	return n
}

// shrink releases the buffer if it is empty, large, and was mostly unused
// since the last shrink. The hysteresis matters: a consumer that keeps
// catching up with fast producers goes idle for an instant now and then,
// and must not regrow its buffer from scratch each time.
func (r *ring[M]) shrink() {
	if r == nil {
		return
	}
	if r.n == 0 && len(r.buf) > ringKeep && int(r.peak)*4 < len(r.buf) {
		r.buf = nil
	}
	r.peak = r.n
}

// grow doubles the buffer (capped at limit when limit > 0), unrolling the
// circle so that head is 0.
func (r *ring[M]) grow(limit int) {
	size := 2 * len(r.buf)
	if size < ringMin {
		size = ringMin
	}
	if limit > 0 && size > limit {
		size = limit
	}
	buf := make([]M, size)
	k := copy(buf, r.buf[r.head:])
	copy(buf[k:], r.buf[:r.head])
	r.buf, r.head = buf, 0
}

// takeAll empties the queue and returns its messages in order.
func (r *ring[M]) takeAll() []M {
	if r == nil {
		return nil
	}
	out := make([]M, 0, r.n)
	for r.n > 0 {
		m, _ := r.pop()
		out = append(out, m)
	}
	r.buf, r.head, r.peak = nil, 0, 0
	return out
}

// The queue of an unbounded mailbox (the inbox) is lock-free for senders,
// who never wait on one another nor on the actor: no lock handoff, no
// convoy behind a sender the OS preempted while holding a lock. A sender
// claims an index with one atomic add on c.tail, finds the slot of that
// index, writes its message there and stamps the slot with the index; the
// activation (the one consumer, under c.mu) takes stamped slots in order,
// a batch at a time.
//
// Slots live in a chain of segments. Segment sizes follow the traffic:
// the first holds one message (an actor sent a single message keeps 64
// bytes for it), each next one doubles up to segSteady, and past that up
// to segMax only while a backlog builds.
//
// Segments are reused, so that steady traffic allocates nothing: a segment
// the consumer has left waits behind it (a short list through prev) until
// no sender can still reach it, then goes back to the end of the chain as
// the next segment senders will open. Senders look for their slot from
// c.last (read after their claim), forward through next or, if c.last has
// already moved past their index, back through prev; every segment on
// those paths lies at or after the consumer's, so none is reused under
// them. The proof that a left segment is unreachable: when the consumer
// leaves a segment it moves c.first and c.last past it, then reads c.tail;
// a sender that could still reach the segment read c.last or c.first
// before that, hence claimed its index before, and once the consumer has
// taken every index below that tail, every such sender has written its
// slot and let go. (A slot's stamp is its index plus one, so a reused
// slot never looks written with an older message.)
type segment[M any] struct {
	start atomic.Uint64 // index of slots[0]
	next  atomic.Pointer[segment[M]]
	// prev is the segment before: the way back for a sender that finds
	// c.last past its index, and, behind the consumer, the list of the
	// segments it left that wait to be reused (cut after keepBehind).
	prev  atomic.Pointer[segment[M]]
	slots []slot[M]
}

type slot[M any] struct {
	// stamp is the index of the message in v, plus one, once written. In
	// a segment the consumer has left, slots[0].stamp holds the tail it
	// read when leaving (see leave): no sender writes there any more,
	// and it keeps the segment no larger than the slots it needs.
	stamp atomic.Uint64
	v     M
}

const (
	segFirst   = 1    // slots of the first segment
	segSteady  = 64   // doubling stops here while the backlog is short
	segMax     = 1024 // and here when it is long
	keepBehind = 8    // left segments waiting to be reused, at most
)

func newSegment[M any](start uint64, size int) *segment[M] {
	s := &segment[M]{slots: make([]slot[M], size)}
	s.start.Store(start)
	return s
}

// firstSegment is the first segment with its slots in the same object:
// most actors never need a second, and a spawn then pays one allocation
// for its mailbox instead of two.
type firstSegment[M any] struct {
	segment[M]
	room [segFirst]slot[M]
}

func newFirstSegment[M any]() *segment[M] {
	f := new(firstSegment[M])
	f.slots = f.room[:]
	return &f.segment
}

// end is the index after the segment's last slot.
func (s *segment[M]) end() uint64 { return s.start.Load() + uint64(len(s.slots)) }

// inLen is how many messages the inbox holds: claimed by senders, not yet
// taken by the consumer. A send under way counts from the moment it
// claims its slot. The head is read first: a lingering activation moves
// it without c.mu (takeLingering), and a tail read before a message was
// sent and taken would be behind the head (MailboxLen -1); the head is
// never past the tail at one instant, nor past a later tail.
func (c *cell[M]) inLen() int {
	h := c.head.Load()
	return int(c.tail.Load() - h)
}

// inPush queues m in the inbox and returns its index. It never blocks,
// and allocates only when it opens a segment and none is there for
// reuse. It does not read c.head: the consumer writes next to it for
// every message.
func (c *cell[M]) inPush(m M) uint64 {
	i := c.tail.Add(1) - 1
	c.inWrite(i, m)
	return i
}

// inWrite writes m into the slot of index i, which the caller claimed.
func (c *cell[M]) inWrite(i uint64, m M) {
	s := c.last.Load() // after the claim: see the proof above
	if s == nil {
		c.first.CompareAndSwap(nil, newFirstSegment[M]())
		c.last.CompareAndSwap(nil, c.first.Load())
		s = c.last.Load()
	}
	for i < s.start.Load() {
		s = s.prev.Load() // a later sender moved c.last past our slot
	}
	for i >= s.end() {
		n := s.next.Load()
		if n == nil {
			n = newSegment[M](s.end(), c.nextSegSize(len(s.slots)))
			n.prev.Store(s)
			if !s.next.CompareAndSwap(nil, n) {
				n = s.next.Load()
			}
		}
		c.last.CompareAndSwap(s, n)
		s = n
	}
	sl := &s.slots[i-s.start.Load()]
	sl.v = m
	sl.stamp.Store(i + 1)
}

// writerPolls is how many times the activation looks again at the
// inbox's oldest slot when its sender has claimed it and not yet written
// it (about a microsecond), before treating the mailbox as empty.
const writerPolls = 200

// awaitWriter waits briefly for the sender of the inbox's oldest message
// to finish writing it, and reports whether it has. The sender is between
// two instructions, or was preempted there: in the first case the
// message is there within nanoseconds, which is far cheaper than
// yielding (which hands the processor to the other senders, who queue
// more behind the hole) or going idle (which needs that sender to start
// a new activation once it is done). c.mu is held.
func (c *cell[M]) awaitWriter() bool {
	if c.inLen() == 0 {
		return false
	}
	for range writerPolls {
		if c.inReady() {
			return true
		}
	}
	return false
}

// nextSegSize is the size of the segment after one of size prev.
func (c *cell[M]) nextSegSize(prev int) int {
	limit := segSteady
	if c.inLen() > segSteady {
		limit = segMax
	}
	return max(segFirst, min(2*prev, limit))
}

// inReady reports whether the inbox's oldest message is there to take
// (its sender has finished writing it).
func (c *cell[M]) inReady() bool {
	s := c.first.Load()
	if s == nil {
		return false
	}
	h := c.head.Load()
	if h >= s.end() {
		if s = s.next.Load(); s == nil {
			return false
		}
	}
	return s.slots[h-s.start.Load()].stamp.Load() == h+1
}

// inPopInto moves up to len(dst) of the inbox's oldest messages into dst,
// stopping at a slot whose sender has not finished, and returns how many.
// With took >= 0 they join a batch of took messages taken already, which
// is counted in hand (all but its first) before c.head moves: a bounded
// mailbox's senders, who count the messages in the inbox and in hand,
// then never see those taken as room before they are. c.mu is held:
// there is one consumer at a time.
func (c *cell[M]) inPopInto(dst []M, took int) int {
	s := c.first.Load()
	if s == nil {
		if took > 1 {
			c.takeHand(took - 1)
		}
		return 0
	}
	var zero M
	h := c.head.Load()
	start, end := s.start.Load(), s.end()
	n := 0
	for n < len(dst) {
		if h >= end {
			next := s.next.Load()
			if next == nil {
				break // its sender is opening it
			}
			c.leave(s, next, h)
			s = next
			start, end = s.start.Load(), s.end()
			continue
		}
		sl := &s.slots[h-start]
		if sl.stamp.Load() != h+1 {
			break // claimed, not yet written
		}
		dst[n] = sl.v
		sl.v = zero // let the message be collected once handled
		h++
		n++
	}
	if k := took + n; took >= 0 && k > 1 { // took < 0: for dead letters, not a batch
		c.takeHand(k - 1)
	}
	if n > 0 {
		c.head.Store(h) // an atomic store is a fence: none when nothing was taken
	}
	return n
}

// inClaimInto is inPopInto for a consumer other than the activation: the
// stop's taking of the whole mailbox (takeAllLocked), which may run while
// the activation lingers and takes the oldest message without c.mu
// (takeLingering). Both claim the messages they take by moving c.head
// with a compare-and-swap from the index they looked at, and read a
// message only once it is theirs, so each is taken once. It leaves the
// segments it empties without reusing any (reclaim): a segment behind it
// may hold the message the activation has claimed and not yet read; the
// activation's next leave, under the lock, reuses them. c.mu is held.
func (c *cell[M]) inClaimInto(dst []M) int {
	var zero M
	for {
		s := c.first.Load()
		if s == nil {
			return 0
		}
		h := c.head.Load()
		start, end := s.start.Load(), s.end()
		if h >= end {
			next := s.next.Load()
			if next == nil {
				return 0 // its sender is opening it
			}
			c.first.Store(next)
			c.last.CompareAndSwap(s, next)
			s.slots[0].stamp.Store(c.tail.Load()) // as leave does, for the activation's reclaim
			continue
		}
		n := 0
		for n < len(dst) && h+uint64(n) < end && s.slots[h+uint64(n)-start].stamp.Load() == h+uint64(n)+1 {
			n++
		}
		if n == 0 {
			return 0 // claimed, not yet written
		}
		if !c.head.CompareAndSwap(h, h+uint64(n)) {
			continue // the lingering activation took the oldest
		}
		for i := range n {
			sl := &s.slots[h+uint64(i)-start]
			dst[i] = sl.v
			sl.v = zero
		}
		return n
	}
}

// leave moves the consumer from segment s, all taken (h is its end), to
// next. s joins the list behind the consumer, stamped with the tail read
// after no sender can newly find it: it may be reused once the consumer
// has taken every index below that tail. c.mu is held.
func (c *cell[M]) leave(s, next *segment[M], h uint64) {
	c.first.Store(next)
	c.last.CompareAndSwap(s, next) // a lagging hint: senders must not start from s
	s.slots[0].stamp.Store(c.tail.Load())
	c.reclaim(next, h, keepBehind)
}

// reclaim looks at the segments left behind cur (newest first): the
// newest that may be reused, given that every index below h is taken,
// goes back to the end of the chain, the others wait; past keep of them
// the rest are garbage. c.mu is held.
func (c *cell[M]) reclaim(cur *segment[M], h uint64, keep int) {
	p := cur
	for k := 0; ; k++ {
		q := p.prev.Load()
		if q == nil {
			return
		}
		if k >= keep {
			p.prev.Store(nil)
			return
		}
		if h >= q.slots[0].stamp.Load() {
			older := q.prev.Load()
			if c.reuse(q) {
				p.prev.Store(older)
			}
			return
		}
		p = q
	}
}

// reuse puts s, a left segment no sender can reach, at the end of the
// chain, and reports whether s is done with: reused, or too small to
// keep (it would restart the doubling). It keeps s, reporting false,
// when a segment is open at the end already. c.mu is held.
func (c *cell[M]) reuse(s *segment[M]) bool {
	t := c.last.Load()
	if len(s.slots) < len(t.slots) {
		return true
	}
	if t.next.Load() != nil {
		return false
	}
	s.next.Store(nil)
	s.start.Store(t.end())
	s.prev.Store(t)
	t.next.CompareAndSwap(nil, s) // lost to a sender opening one: s goes
	return true
}

// inIdle lets the segments left behind the consumer go when the actor
// goes idle. c.mu is held.
func (c *cell[M]) inIdle() {
	if s := c.first.Load(); s != nil {
		s.prev.Store(nil)
	}
}
