package supervisor

// Starting an incarnation: New, Start bounded by a timer, then Launch or
// a goroutine running Serve; and how that goroutine reports the exit.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/internal/hook"
)

// startChild runs New, then Start (bounded by a timer), then launches the
// incarnation. On failure the child is left stopped with LastErr set.
func (r *run) startChild(c *child, restarted bool) error {
	return r.startChildWith(c, restarted, nil)
}

// startChildWith is startChild with the value New returned already, if
// made is not nil (a StartChild that tried the lane, see lane.go).
func (r *run) startChildWith(c *child, restarted bool, made Child) (err error) {
	c.setState(ChildStarting)
	r.settle(c) // never two incarnations at once, unless one was reported abandoned
	defer func() {
		if err != nil {
			c.inc = nil
			c.setState(ChildStopped)
			c.setLastErr(err)
			r.emit(Event{Kind: EventChildStartFailed, Child: c.spec.Name, Err: err, Restarts: c.rd().restarts})
			err = fmt.Errorf("supervisor %s: start child %q: %w", r.path, c.spec.Name, err)
		}
	}()
	inst := made
	if inst == nil {
		if inst, err = callNew(c.spec.src); err != nil {
			return err
		}
	}
	if err := checkHealthPolicy(c.spec.health(), inst); err != nil {
		return err
	}
	sub, isSub := inst.(*Supervisor)
	if isSub {
		// A spec added by AddSupervisor claimed sub already; a New that
		// returns one claims it now, and nothing of sub changes if that
		// is refused.
		if err := claim(r.s, sub, false); err != nil {
			return err
		}
		if c.rd().sub != nil && c.rd().sub != sub {
			release(r.s, c.rd().sub) // New returns a fresh supervisor each time
		}
		c.rw().sub = sub
	}
	// The first incarnation lives inside the child record: one allocation
	// less on every start; restarts allocate their own so that a late exit
	// report of an earlier one stays distinguishable.
	inc := &c.first
	if inc.inst != nil {
		inc = new(incarnation)
	}
	*inc = incarnation{c: c, inst: inst, incCtx: incCtx{r: r}}
	cancel := inc.cancel
	c.inc = inc
	launcher, isLauncher := inst.(Launcher)
	var carrier eventCarrier
	if r.holding {
		if isLauncher && !isSub {
			carrier, _ = inst.(eventCarrier)
		}
		if carrier == nil {
			// Only an actor can carry a restart's held wake-ups (see
			// holdWakes): the loop pays them now, before the
			// incarnation's goroutine (if any) starts, as emit would
			// have, and holds no more.
			r.holding = false
			if r.held {
				r.wakeHeld()
			}
		}
	}
	if isSub {
		if err := r.startSub(c, sub, inc); err != nil {
			cancel()
			return err
		}
		isLauncher = false // launched by startSub
	} else if starter, ok := inst.(Starter); ok {
		ack := make(chan error, 1)
		go inc.startThenServe(r, starter, ack, !isLauncher)
		if err := r.awaitStart(c, ack); err != nil {
			inc.flags.Or(incAbandoned)
			cancel()
			return err
		}
	} else if !isLauncher {
		go inc.serve(r)
	}
	if isLauncher {
		if err := callLaunch(launcher, inc); err != nil {
			cancel()
			return err
		}
		if carrier != nil {
			r.carrier = carrier // it may carry the restart's held wake-ups
		}
	}
	c.setState(ChildRunning)
	now := time.Now() // one clock read for since and the event
	c.setSince(now)
	kind := EventChildStarted
	if restarted {
		// Counted once it has succeeded: a restart that fails to start is
		// retried, and the events before and after agree on the count.
		c.rw().restarts++
		kind = EventChildRestarted
	}
	r.emitInc(kind, inc, now)
	if c.rd().poll != nil && c.rd().poll.status.State != healthyStatus.State {
		// A fresh incarnation is presumed healthy; say so, or observers
		// that follow events would keep showing the old verdict.
		c.rd().poll.status = healthyStatus
		r.emitHeld(Event{Kind: EventHealthChanged, Child: c.spec.Name, Health: healthyStatus, Restarts: c.rd().restarts})
	}
	r.startPolling(c)
	return nil
}

// startSub starts a sub-supervisor as c's incarnation inc and launches
// it: no goroutine of the parent's waits for its end, the sub's own run
// reports it. A sub-supervisor's Start is not bounded unless its spec sets
// a StartTimeout (OTP waits as long as it takes); when that expires, the
// sub is stopped and waited for, so that no start of it goes on in the
// background to meet a retry with ErrAlreadyStarted.
func (r *run) startSub(c *child, sub *Supervisor, inc *incarnation) error {
	sr, err := sub.begin(&inc.incCtx, r.s, c.spec.Name)
	if err != nil {
		return err
	}
	go sr.main()
	if err := r.awaitStart(c, sr.started); err != nil {
		if errors.Is(err, ErrStartTimeout) {
			inc.cancel() // its start ends at the next child; then its run ends
			if <-sr.started == nil {
				<-sr.done
			}
		}
		return err
	}
	sub.launch(sr, inc.exitFunc())
	return nil
}

func (r *run) awaitStart(c *child, ack chan error) error {
	d := c.spec.startTimeout()
	if d == 0 {
		if c.rd().sub != nil {
			return <-ack
		}
		d = DefaultStartTimeout
	}
	t := r.resetTimer(d)
	select {
	case err := <-ack:
		t.Stop()
		return err
	case <-t.C:
		return fmt.Errorf("%w after %v", ErrStartTimeout, d)
	}
}

func (r *run) resetTimer(d time.Duration) *time.Timer {
	if r.timer == nil {
		r.timer = time.NewTimer(d)
	} else {
		r.timer.Reset(d)
	}
	return r.timer
}

func callNew(src Source) (c Child, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = NewPanicError(v)
		}
	}()
	c = src.New()
	if isNil(c) {
		return nil, fmt.Errorf("%w: New returned a nil %T", ErrInvalidSpec, c)
	}
	return c, nil
}

// isNil reports a nil Child, including a typed nil (a nil *T in the
// interface), whose methods would panic on first use. Reflection costs a
// few nanoseconds per start and spares a crash loop with a useless stack.
func isNil(c Child) bool {
	if c == nil {
		return true
	}
	switch v := reflect.ValueOf(c); v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// checkHealthPolicy refuses health checks on a child that cannot be
// checked: configured and silently never run would hide the mistake.
func checkHealthPolicy(p HealthPolicy, c Child) error {
	if p.Interval <= 0 {
		return nil
	}
	if _, ok := c.(health.Checker); !ok {
		return fmt.Errorf("%w: health checks configured (Interval %v) but %T does not implement health.Checker",
			ErrInvalidSpec, p.Interval, c)
	}
	return nil
}

// callLaunch launches inc's child, whose ctx is inc itself (the same
// value Start and Serve are given, see Starter): a ctxLauncher is told to
// report its end through that ctx, any other Launcher is given an exit
// function made for it.
func callLaunch(l Launcher, inc *incarnation) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = NewPanicError(v)
		}
	}()
	if cl, ok := l.(ctxLauncher); ok && cl.LaunchCtx(hook.Token{}, inc) {
		return nil
	}
	l.Launch(inc, inc.exitFunc())
	return nil
}

// ctxLauncher is implemented by Launchers that report their end by calling
// ExitChild on the ctx they are launched with, rather than an exit
// function: actors' incarnations, of which a program may hold 100,000
// idle, each of which would keep its exit function (16 bytes) as long as
// it runs. LaunchCtx reports false, having launched nothing, if it cannot
// report so; Launch is called then. (The hook.Token keeps the agreement
// out of reach of code outside this module; see package hook.)
type ctxLauncher interface {
	LaunchCtx(_ hook.Token, ctx context.Context) bool
}

// ExitChild is how a child launched by LaunchCtx (see ctxLauncher)
// reports its end: as the exit function a Launcher is given, exactly
// once. Its body is exitFunc's, for the same reason (it runs at the end of
// a small goroutine stack), and it is a method of the incarnation, the
// ctx the child holds, so that nothing is made per incarnation.
func (inc *incarnation) ExitChild(_ hook.Token, err error) {
	if !inc.recordExit(err) {
		return
	}
	r := inc.r
	if inc.lane == laneTemporary && r.laneExit(inc) {
		return
	}
	r.in.pushExit(inc)
}

// PayEvents is the payment of a restart's held wake-ups by the restarted
// actor's activation (see holdWakes), through the ctx it was launched
// with; the Token keeps it out of reach of code outside this module.
func (inc *incarnation) PayEvents(_ hook.Token) { inc.r.payHeld(true) }

// exitFunc is the exit a Launcher calls: a closure of the incarnation
// alone, 16 bytes (it held the run too, 24, before the incarnation's ctx
// knew its run). Its body is exit's, written out rather than called, and
// it is a closure rather than a method value, whose wrapper is a frame
// more: it may run at the end of a deep, small goroutine stack (an actor's
// activation reporting a crash), and a frame more there made that stack
// grow for the report, which cost more than the rest of the restart.
// pushExit keeps its frame small for the same reason.
func (inc *incarnation) exitFunc() func(error) {
	return func(err error) {
		if !inc.recordExit(err) {
			return
		}
		r := inc.r
		if inc.lane == laneTemporary && r.laneExit(inc) {
			return
		}
		r.in.pushExit(inc)
	}
}

// exit records the end of the incarnation; only the first call counts.
func (inc *incarnation) exit(r *run, err error) {
	if !inc.recordExit(err) {
		return
	}
	if inc.lane == laneTemporary && r.laneExit(inc) {
		return
	}
	r.in.pushExit(inc)
}

// recordExit records err as the incarnation's end, and reports whether
// this was the first report.
func (inc *incarnation) recordExit(err error) bool {
	if inc.flags.Or(incExited)&incExited != 0 {
		return false
	}
	inc.err = err
	inc.flags.Or(incEnded)
	return true
}

// serve runs a goroutine child. The recover lives here rather than in a
// helper so that each of what may be 100,000 parked goroutines has one
// frame less for the garbage collector to walk. The exit is reported by a
// defer of its own, which runs after the recovering one has returned and
// the panic's frames are gone: reported from inside the recovering defer,
// it grew the goroutine's small stack with the panic's frames on it.
func (inc *incarnation) serve(r *run) {
	var err error
	defer func() { inc.exit(r, err) }()
	defer func() {
		if v := recover(); v != nil {
			err = NewPanicError(v)
		}
	}()
	err = inc.inst.Serve(inc)
}

func (inc *incarnation) startThenServe(r *run, st Starter, ack chan<- error, serve bool) {
	err := safeStart(st, inc)
	ack <- err
	if testHookAfterStart != nil {
		testHookAfterStart()
	}
	if err != nil || !serve || inc.flags.Load()&incAbandoned != 0 {
		// A failed or timed-out start: the supervisor has given up on
		// this incarnation and expects no exit. (Not inc.Err(): the
		// supervisor may already be stopping a child that started well.)
		return
	}
	inc.serve(r)
}

// testHookAfterStart lets a test hold a child's goroutine between its
// Start acknowledgement and Serve, where a stop can slip in.
var testHookAfterStart func()

func safeStart(st Starter, ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = NewPanicError(v)
		}
	}()
	return st.Start(ctx)
}
