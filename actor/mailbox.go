package actor

import (
	"fmt"
	"math"
	"strconv"
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
// Receive does not count); policy says what happens to one more. A
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

// ring is a FIFO queue in a circular buffer. It allocates nothing until the
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

func (r *ring[M]) len() int { return int(r.n) }

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
	if r.n == 0 {
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
	out := make([]M, 0, r.n)
	for r.n > 0 {
		m, _ := r.pop()
		out = append(out, m)
	}
	r.buf, r.head, r.peak = nil, 0, 0
	return out
}
