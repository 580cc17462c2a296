package actor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/airssys/rt/internal/hook"
	"github.com/airssys/rt/supervisor"
)

// cell is an actor across its incarnations: the identity a Ref points to,
// the mailbox that survives restarts, and the record of its end. The
// incarnations (one per start by the supervisor) come and go; the cell
// stays until the actor stops for good.
//
// Its 192 bytes (a size class whose objects start on a cache line) are
// laid out in three lines by who writes them, so that a busy actor and its
// senders do not slow each other down by writing next to what the other
// reads (TestCellStaysSmall checks the lines):
//   - the senders' line, written for every message by the senders alone
//     (c.tail) beside fields fixed by the Spec;
//   - the shared line, read for every message by both sides and written
//     once per batch by the activation (c.head, c.mu) or seldom (c.state);
//   - the activation's line, written for every message by the activation
//     alone (c.tally, beside the first incarnation it delivers to), and
//     read by a bounded mailbox's senders (see inReserve).
//
// The shared line matters most: the activation reads c.state for every
// message, and when it lay on the senders' line every sender's claim of a
// slot took it away; in 4 -> 1 fan-in rounds where the actor and its
// senders ran on both processors at once, the per-message CPU time went
// from 57-113 ns to 55-58 with this layout (raw channels 60-73), and
// rounds on one processor kept theirs (see ../benchmarks/BENCHMARKS.md,
// "Fourth pass").
type cell[M any] struct {
	// The senders' line.
	// The unbounded mailbox's queue, senders' side (see inbox in
	// mailbox.go): slots claimed, and a recent segment where senders
	// look for theirs.
	tail atomic.Uint64
	last atomic.Pointer[segment[M]]
	name string
	// Fixed by the Spec (and, for a throughput other than the default,
	// cellRare.throughput).
	sys     atomic.Pointer[System] // set by the Spec, or at the first start in a System's tree
	factory func() Actor[M]
	_       [16]byte // the rest of the senders' line

	// The shared line.
	// state holds the scheduling bits (stActive and the others, see
	// scheduler.go) and, so that the cell stays small, the cell's flags
	// and the settings of its Spec (see stLaunched).
	state    atomic.Uint32
	capacity int32 // 0: unbounded
	// rare holds what most actors never need, made on first use, so that
	// an idle actor stays small.
	rare atomic.Pointer[cellRare]
	// The unbounded mailbox's queue, consumer's side: slots taken (written
	// under mu only), and the segment they are taken from.
	head  atomic.Uint64
	first atomic.Pointer[segment[M]]
	// Guarded by mu.
	mu sync.Mutex
	// q holds the messages put back at the mailbox's head, ahead of the
	// inbox; made at the first.
	q   *ring[M]
	inc *incarnation[M] // the incarnation that receives; nil between incarnations

	// inc0 is the first incarnation, inside the cell: every actor starts
	// at least once, and an idle actor is then one object instead of two
	// (the incarnation is kept to 64 bytes, see TestCellStaysSmall). Its
	// fields are the ones the activation reads for every message, so all
	// but its first word (cx.cell, fixed) lie on the activation's line. It
	// is given out once (its cx.cell is set then, under mu); restarts
	// allocate their own.
	inc0 incarnation[M]

	// The end of the activation's line.
	// tally packs two counters into one word, so that handling a message
	// costs one atomic add: the messages processed (high bits), and the
	// messages the activation has taken out of the mailbox in its batch
	// and not yet begun to deliver (low handBits bits), which anyone
	// asking still counts as queued.
	tally atomic.Uint64
}

// Bits of cell.state above the scheduling ones (scheduler.go), which they
// share a word with so that an idle actor's cell fits a smaller size
// class than five fields of their own would let it. stLaunched and
// stRegistered change under mu; the others are fixed by the Spec.
const (
	stLaunched   uint32 = 1 << (8 + iota) // some incarnation has been launched
	stRegistered                          // holds its name in sys
	stDrain                               // handle what is queued when asked to stop (WithDrainOnStop)
	// stTemporary: WithRestart(Temporary). Its normal end is its stop for
	// good, so the Asks it held fail with ErrStopped as well (see end).
	stTemporary
	// stRootName: spawned on its System root's lane, its name is held by
	// the root's table of children alone, where the System finds it (see
	// System.laneGuard); set before the Spec is started, then fixed.
	stRootName
	// stInc0Ended: the first incarnation (inc0) was launched and has
	// ended; set under mu by end, before its exit report. Nothing writes
	// inc0.cx.ctx after that (see releaseCtxLocked).
	stInc0Ended
)

// stPolicyShift is where cell.state holds the bounded mailbox's Overflow
// policy, fixed by the Spec.
const stPolicyShift = 16

// cellState is the initial cell.state of an actor with these settings.
func cellState(policy Overflow, drain bool) uint32 {
	st := uint32(policy) << stPolicyShift
	if drain {
		st |= stDrain
	}
	return st
}

func (c *cell[M]) launchedLocked() bool   { return c.state.Load()&stLaunched != 0 }
func (c *cell[M]) registeredLocked() bool { return c.state.Load()&stRegistered != 0 }

// stopped reports whether the actor has stopped for good (stopLocked).
func (c *cell[M]) stopped() bool { return c.state.Load()&stClosed != 0 }

// drain reports whether the actor handles what is queued when asked to
// stop (WithDrainOnStop).
func (c *cell[M]) drain() bool { return c.state.Load()&stDrain != 0 }

// policy is the bounded mailbox's Overflow policy.
func (c *cell[M]) policy() Overflow { return Overflow(c.state.Load() >> stPolicyShift & 0xff) }

// throughput is how many messages the actor handles per turn before
// yielding: defaultThroughput unless WithThroughput set another, which
// cellRare holds.
func (c *cell[M]) throughput() int {
	if r := c.rare.Load(); r != nil && r.throughput != 0 {
		return int(r.throughput)
	}
	return defaultThroughput
}

// cellRare is the part of a cell that most actors never use.
type cellRare struct {
	// lastErr is how the latest incarnation ended (nil if normally), and
	// once stopped the *stopError that Err returns; guarded by mu.
	lastErr  error
	blocked  any           // *blockedQueue[M]: Block senders waiting for room; guarded by mu
	done     chan struct{} // Done's channel, made when first asked for; guarded by mu
	watchers *watcher      // a list; guarded by mu
	logger   atomic.Pointer[slog.Logger]
	base     *slog.Logger           // WithLogger's, which logger extends; set before the actor runs
	public   atomic.Pointer[string] // the name the actor is known by, if not its cell's (see SetName)
	dead     atomic.Uint64          // dead letters attributed to the actor
	// throughput is WithThroughput's, if other than defaultThroughput
	// (see cell.throughput); set before the actor runs.
	throughput int32
	waiting    atomic.Int32 // senders in blocked; changed under mu
}

// rareOf returns c.rare, made if need be.
func (c *cell[M]) rareOf() *cellRare {
	if r := c.rare.Load(); r != nil {
		return r
	}
	r := new(cellRare)
	if c.rare.CompareAndSwap(nil, r) {
		return r
	}
	return c.rare.Load()
}

// lastErr is cellRare.lastErr (nil if there is no cellRare); c.mu is held.
func (c *cell[M]) lastErr() error {
	if r := c.rare.Load(); r != nil {
		return r.lastErr
	}
	return nil
}

// setLastErr sets cellRare.lastErr, making the cellRare only for an
// error; c.mu is held.
func (c *cell[M]) setLastErr(err error) {
	if err == nil && c.rare.Load() == nil {
		return
	}
	c.rareOf().lastErr = err
}

// deadCount is how many dead letters are attributed to the actor.
func (c *cell[M]) deadCount() uint64 {
	if r := c.rare.Load(); r != nil {
		return r.dead.Load()
	}
	return 0
}

// ringLocked returns c.q, made if need be, for a message to be put back
// at the head; c.mu is held. A lingering activation cannot see c.q without
// the lock: its next take is under it (stLookLocked).
func (c *cell[M]) ringLocked() *ring[M] {
	if c.q == nil {
		c.q = new(ring[M])
	}
	if c.state.Load()&stLookLocked == 0 {
		c.state.Or(stLookLocked)
	}
	return c.q
}

// closedChan is the Done channel of actors that stopped before anyone asked.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (c *cell[M]) setLogger(l *slog.Logger) {
	if l != nil {
		r := c.rareOf()
		r.base = l
		r.logger.Store(l.With("actor", c.name))
	}
}

// publicName is the name the actor is known by: its cell's, unless a
// transport set another (see Context.SetName).
func (c *cell[M]) publicName() string {
	if r := c.rare.Load(); r != nil {
		if p := r.public.Load(); p != nil {
			return *p
		}
	}
	return c.name
}

// setPublicName makes name the one Name and the logger give.
func (c *cell[M]) setPublicName(name string) {
	r := c.rareOf()
	r.public.Store(&name)
	r.logger.Store(nil) // made again by log, with the name
}

func (c *cell[M]) log() *slog.Logger {
	if r := c.rare.Load(); r != nil {
		if l := r.logger.Load(); l != nil {
			return l
		}
	}
	r := c.rareOf()
	base := r.base
	if base == nil {
		base = slog.Default()
		if s := c.sys.Load(); s != nil && s.logger != nil {
			base = s.logger
		}
	}
	l := base.With("actor", c.publicName())
	r.logger.Store(l)
	return l
}

func (c *cell[M]) deadLetters() *DeadLetters {
	if s := c.sys.Load(); s != nil {
		return &s.dead
	}
	return &defaultDeadLetters
}

// deadLetter records msg as a dead letter attributed to this actor.
func (c *cell[M]) deadLetter(msg M, reason error) {
	c.rareOf().dead.Add(1)
	deadLetter(c.deadLetters(), c.name, msg, reason)
}

// register claims the actor's name in its System, once.
func (c *cell[M]) register() error {
	if c.sys.Load() == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.registerLocked()
}

// registerLocked is register with c.mu held (then the System's lock,
// the order dispose takes them in).
func (c *cell[M]) registerLocked() error {
	sys := c.sys.Load()
	if sys == nil || c.registeredLocked() || c.state.Load()&stRootName != 0 {
		return nil
	}
	if c.stopped() {
		return c.stoppedErrLocked()
	}
	if err := sys.register(c.name, c); err != nil {
		return err
	}
	c.state.Or(stRegistered)
	return nil
}

// registerNew is register for a cell that nobody else can reach yet (Spawn's
// own, before its Ref is returned or the System's registry holds it): no
// lock of the cell's is needed, since the registry's lock publishes the
// flag with the cell.
func (c *cell[M]) registerNew() error {
	sys := c.sys.Load()
	if sys == nil {
		return nil
	}
	c.state.Or(stRegistered)
	if err := sys.register(c.name, c); err != nil {
		c.state.And(^stRegistered)
		return err
	}
	return nil
}

// dispose is Spec.Dispose: the supervisor will never start the actor
// again. The actor stops for good: Done closes, the name is released, what
// is queued becomes dead letters, and later sends fail. It runs on the
// supervisor's goroutine, so it only moves things and spawns the watchers.
func (c *cell[M]) dispose(reason error) {
	if errors.Is(reason, errSpecReused) {
		return // from a supervisor that never ran the actor (see newChild)
	}
	c.mu.Lock()
	if c.stopped() {
		c.mu.Unlock()
		return
	}
	cause := c.lastErr()
	if !c.launchedLocked() && !isNormal(reason) {
		// Never launched, and the supervisor knows why: a start failure
		// this cell did not see, such as a start timeout.
		cause = reason
	}
	if c.registeredLocked() {
		// Before Done closes: whoever waited for it may spawn a
		// successor under the same name at once. (c.mu then the
		// System's lock, the order register takes them in.)
		c.sys.Load().unregister(c.name, c)
		c.state.And(^stRegistered)
	}
	c.stopLocked(cause)
	c.releaseCtxLocked()
	queued := c.takeAllLocked()
	var watchers *watcher
	if r := c.rare.Load(); r != nil {
		watchers, r.watchers = r.watchers, nil
	}
	var err error
	if watchers != nil {
		err = c.stoppedErrLocked()
	}
	c.mu.Unlock()

	for _, m := range queued {
		c.deadLetter(m, errQueuedAtStop)
	}
	if watchers != nil {
		l := c.log()
		for w := watchers; w != nil; w = w.next {
			w.fire(err, l)
		}
	}
}

// ctxEnder is implemented by a supervisor's contexts: Ended returns the
// context a child that has stopped for good may keep in their place, or
// nil while the incarnation has not reported its exit.
type ctxEnder interface {
	Ended(hook.Token) context.Context
}

// releaseCtxLocked lets the first incarnation of an actor that has
// stopped for good drop its supervisor's context for one that holds
// nothing of it (see the supervisor's incCtx.Ended), if nobody has asked
// for the context (stCtxUsed, set under mu on first use): the cell lives
// as long as anyone holds a Ref, and that context is the supervisor's
// record of the child (160 bytes), which would live as long. It is done
// only once inc0 has ended (stInc0Ended) and the supervisor has its exit
// report (Ended is nil before): the end's last read of the field comes
// before that report. c.mu is held.
func (c *cell[M]) releaseCtxLocked() {
	inc := &c.inc0
	if c.state.Load()&(stCtxUsed|stInc0Ended) != stInc0Ended {
		return // asked for, or it may still be written: a start the supervisor gave up on may still run
	}
	if e, ok := inc.cx.ctx.(ctxEnder); ok {
		if ended := e.Ended(hook.Token{}); ended != nil {
			inc.cx.ctx = ended
		}
	}
}

// stopLocked marks the cell stopped for good with cause (nil: a normal
// end). c.mu is held.
func (c *cell[M]) stopLocked(cause error) {
	c.state.Or(stClosed)
	// A normal end with no cellRare records nothing: stoppedErrLocked
	// makes the error if anyone asks.
	if cause != nil || c.rare.Load() != nil {
		c.setLastErr(&stopError{name: c.name, cause: cause})
	}
	if r := c.rare.Load(); r != nil {
		if r.done != nil {
			close(r.done) // a later doneChan finds it closed
		}
		c.refuseBlockedLocked(r) // blocked senders learn of the stop
	}
}

// stoppedErrLocked is what Err returns once the actor has stopped for
// good: the recorded *stopError, or, after a normal end that found no
// cellRare (stopLocked spares an actor that stops normally the cellRare
// and the error, which few ever read), a fresh one. c.mu is held.
func (c *cell[M]) stoppedErrLocked() error {
	if err := c.lastErr(); err != nil {
		return err
	}
	return &stopError{name: c.name}
}

// noteEnd records how the latest incarnation ended (nil: normally), for
// Err once the actor stops for good. c.mu is held.
func (c *cell[M]) noteEnd(err error) {
	if !c.stopped() {
		c.setLastErr(err)
	}
}

// isNormal reports whether an incarnation's exit error is a normal end:
// nil, or an error wrapping supervisor.ErrShutdown that is no panic (a
// panic is a crash whatever its value; the supervisor's rule, see its
// isShutdown). A PanicError, the crash path's case, is decided first,
// without unwrapping it.
func isNormal(err error) bool {
	if err == nil {
		return true
	}
	if _, ok := err.(*supervisor.PanicError); ok {
		return false
	}
	return isShutdown(err)
}

// isShutdown is isNormal's rule for an error that is not nil and not
// itself a PanicError. Not inlined: isNormal inlines into end, on the
// crash path's small stack (see TestCrashPathFitsTheStartingStack).
//
//go:noinline
func isShutdown(err error) bool {
	if !errors.Is(err, supervisor.ErrShutdown) {
		return false
	}
	_, panicked := errors.AsType[*supervisor.PanicError](err)
	return !panicked
}

func (c *cell[M]) doneChan() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.rare.Load(); r != nil && r.done != nil {
		return r.done
	}
	if c.stopped() {
		return closedChan
	}
	r := c.rareOf()
	r.done = make(chan struct{})
	return r.done
}

// stopErr is Err: nil until stopped.
func (c *cell[M]) stopErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped() {
		return nil
	}
	return c.stoppedErrLocked()
}

// stopError is why an actor stopped for good: ErrStopped, and the error
// that ended its last incarnation, if any. It is built without formatting,
// since most are never read.
type stopError struct {
	name  string
	cause error
}

func (e *stopError) Error() string {
	if e.cause == nil {
		return fmt.Sprintf("actor %q: %v", e.name, ErrStopped)
	}
	return fmt.Sprintf("actor %q: %v: %v", e.name, ErrStopped, e.cause)
}

// Unwrap lets errors.Is and errors.As see both ErrStopped and the cause.
func (e *stopError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrStopped}
	}
	return []error{ErrStopped, e.cause}
}

func (c *cell[M]) mailboxLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queuedLocked() + c.inHand()
}

// watcher is one Watch registration, in the cell's list.
type watcher struct {
	fn    func(error)
	fired atomic.Bool
	next  *watcher
}

// fire calls fn on a goroutine of its own, so that a slow watcher delays
// neither the supervisor nor other watchers; at most once. A panic in fn
// is logged to l with its stack (see callWatcher).
func (w *watcher) fire(err error, l *slog.Logger) {
	if w.fired.CompareAndSwap(false, true) {
		go callWatcher(w.fn, err, l)
	}
}

func (c *cell[M]) watch(fn func(error)) (stop func() bool) {
	w := &watcher{fn: fn}
	c.mu.Lock()
	if c.stopped() {
		err := c.stoppedErrLocked()
		c.mu.Unlock()
		w.fire(err, c.log())
		return func() bool { return false }
	}
	r := c.rareOf()
	w.next, r.watchers = r.watchers, w
	c.mu.Unlock()
	return func() bool {
		if !w.fired.CompareAndSwap(false, true) {
			return false
		}
		c.mu.Lock()
		for p := &r.watchers; *p != nil; p = &(*p).next {
			if *p == w {
				*p = w.next
				break
			}
		}
		c.mu.Unlock()
		return true
	}
}

const handBits = 16 // a batch is at most batchMax messages

func (c *cell[M]) inHand() int { return int(c.tally.Load() & (1<<handBits - 1)) }

func (c *cell[M]) processed() uint64 { return c.tally.Load() >> handBits }

// takeHand counts n messages taken out of the mailbox into the batch
// (besides the one that goes to Receive at once).
func (c *cell[M]) takeHand(n int) { c.tally.Add(uint64(n)) }

// dropHand uncounts n messages of the batch put back into the mailbox.
func (c *cell[M]) dropHand(n int) {
	if n > 0 {
		c.tally.Add(^uint64(n - 1))
	}
}

// settle accounts for a delivered message, in one atomic add: counted as
// processed if it was, and, when the batch has a next message, that one
// leaves the count as it goes to Receive.
func (c *cell[M]) settle(processed, next bool) {
	var d uint64
	if processed {
		d = 1 << handBits
	}
	if next {
		d--
	}
	if d != 0 {
		c.tally.Add(d)
	}
}

// leftHand follows a message of the batch in hand going to Receive in a
// bounded mailbox (turnLoop calls it after settle, which stays small
// enough to inline): its slot is free, so waiting Block senders' messages
// move in now, not at the activation's next look into the mailbox, which
// a slow Receive can put off indefinitely. The waiting count is read
// after the hand's decrement; a sender raises it before its last look at
// the hand (see sendBlock): one of the two sees the other.
//
//go:noinline
func (c *cell[M]) leftHand() {
	if r := c.rare.Load(); r != nil && r.waiting.Load() > 0 {
		c.mu.Lock()
		c.tookLocked()
		c.mu.Unlock()
	}
}
