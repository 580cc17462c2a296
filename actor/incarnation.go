package actor

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/internal/hook"
	"github.com/airssys/rt/supervisor"
)

// incarnation is one run of an actor, from the factory's fresh value to its
// exit: what Spec.New returns to the supervisor. It implements
// supervisor.Launcher, so the supervisor gives it no goroutine; the cell's
// activations run it when there is work.
//
// Fields are written before the incarnation is published to the cell (in
// Start or Launch) and read by the activation afterwards, except those
// noted.
//
// It is kept at 64 bytes, so that the cell with its first incarnation
// inside (cell.inc0) fits a small size class: what only some
// incarnations need lives in rare (Context.SetSelf's ref included), the
// stop request is watched without a stop function (see watchStop), and
// the end is reported to the supervisor without an exit function (see
// LaunchCtx).
type incarnation[M any] struct {
	cx       Context[M] // cx.cell is the actor; cx.ctx takes its exit report when markExitCtx is set
	actor    Actor[M]
	rare     *incRare[M]   // guarded by the cell's mu; nil in the common case
	ctl      atomic.Uint32 // control requests (ctlStop, ctlCrash)
	started  bool          // PreStart succeeded (or there is none): PostStop is due
	launched bool
	ended    bool  // owned by the activation
	marks    uint8 // markWatchInline, markWatchOther, markSelf, markExitCtx; written before the incarnation is published
}

// incRare holds what few incarnations need, apart so that the others stay
// small.
type incRare[M any] struct {
	crashErr error // set before ctlCrash
	// exit is the exit function of an incarnation launched by Launch
	// (another runner than a supervisor, which reports through the
	// ctx: see markExitCtx); set before the incarnation is published.
	exit func(error)
	// retiring is the incarnation this one replaced before it had ended
	// (the supervisor does not wait with BrutalKill, nor after abandoning
	// one): the activation ends it, PostStop included, before this one
	// receives. Its own rare may link to an older one.
	retiring *incarnation[M]
	// unwatch undoes the AfterFunc that watches for a stop, when the ctx
	// had no inline slot to give (watchOther).
	unwatch func() bool
	// self is what Context.Self returns instead of the cell (see
	// SetSelf), when markSelf is set.
	self *cell[M]
	// drainLeft is how many queued messages a stopping incarnation may
	// still handle (WithDrainOnStop), counted from when it first saw the
	// request (draining).
	drainLeft int32
	draining  bool
	// taken is the request the incarnation is ending on, kept for end to
	// fail its Replies (see holdTaken); hasTaken says it is there.
	taken    M
	hasTaken bool
}

// rareLocked returns inc.rare, made if need be; the cell's mu is held.
func (inc *incarnation[M]) rareLocked() *incRare[M] {
	if inc.rare == nil {
		inc.rare = new(incRare[M])
	}
	return inc.rare
}

// New implements supervisor.Source (the cell is its actor's Spec.Source):
// see newChild.
func (c *cell[M]) New() supervisor.Child { return c.newChild() }

// Dispose implements supervisor.Source: see dispose.
func (c *cell[M]) Dispose(reason error) { c.dispose(reason) }

// newChild is Spec.New: it runs on the supervisor's goroutine at every
// (re)start and returns a fresh incarnation, or a child that fails to start
// when no incarnation can be made. The returned type depends on the actor
// value: only actors with PreStart get a supervisor.Starter (and with it a
// start goroutine), only health.Checkers a CheckHealth.
func (c *cell[M]) newChild() supervisor.Child {
	// One lock for the checks, the registration (if Spawn has not done
	// it) and the claim of inc0: a spawn pays for each lock round trip.
	c.mu.Lock()
	if err := c.registerLocked(); err != nil {
		c.mu.Unlock()
		return c.failStart(err)
	}
	// An actor of no System yet, starting for the first time while some
	// System runs, may be in that System's tree: it learns which from the
	// ctx of its start, and so needs a Starter (see join). Other actors
	// skip that start goroutine.
	joining := !c.launchedLocked() && c.sys.Load() == nil && systemsLive.Load() > 0
	switch {
	case c.stopped():
		err := c.stoppedErrLocked()
		c.mu.Unlock()
		return failedChild{err}
	case c.inc != nil && c.inc.ctl.Load()&ctlStop == 0 && c.inc.cx.ctx.Err() == nil:
		// The current incarnation was not asked to stop: another
		// supervisor runs this Spec. Its start fails, and the failure is
		// neither recorded as the actor's nor a reason to stop it for
		// good (see dispose).
		c.mu.Unlock()
		return failedChild{fmt.Errorf("actor %q: %w", c.name, errSpecReused)}
	}
	var inc *incarnation[M]
	if c.inc0.cx.cell == nil {
		// The first incarnation lives inside the cell, as the
		// supervisor's first lives inside its record: every actor starts
		// at least once, and this spares an idle actor an object.
		// It is claimed once (setting its cell claims it; if the factory
		// then fails it stays unused); restarts get their own.
		c.inc0.cx.cell = c
		inc = &c.inc0
	}
	c.mu.Unlock()
	a, err := c.make()
	if err != nil {
		return c.failStart(err)
	}
	if inc == nil {
		inc = new(incarnation[M])
		inc.cx.cell = c
	}
	inc.actor = a
	inc.cx.inc = inc
	_, pre := a.(PreStarter[M])
	pre = pre || joining
	_, checker := a.(health.Checker)
	switch {
	case pre && checker:
		return startingChecked[M]{inc}
	case pre:
		return starting[M]{inc}
	case checker:
		inc.started = true
		return checked[M]{inc}
	}
	inc.started = true
	return inc
}

// make calls the factory; a panic or a nil actor is a start failure.
func (c *cell[M]) make() (a Actor[M], err error) {
	defer func() {
		if v := recover(); v != nil {
			err = supervisor.NewPanicError(v)
		}
	}()
	a = c.factory()
	if a == nil {
		return nil, fmt.Errorf("%w: factory returned a nil Actor", ErrInvalidSpec)
	}
	return a, nil
}

// failStart records err as the cell's latest failure and returns a child
// whose Start reports it.
func (c *cell[M]) failStart(err error) supervisor.Child {
	err = fmt.Errorf("actor %q: %w", c.name, err)
	c.mu.Lock()
	c.noteEnd(err)
	c.mu.Unlock()
	return failedChild{err}
}

// errSpecReused fails the start of a Spec that a second supervisor was
// given while the first runs it. The Dispose that follows comes from the
// second supervisor and is ignored: the actor belongs to the first.
var errSpecReused = fmt.Errorf("%w: the Spec already runs under another supervisor (a Spec is for one supervisor: make another)", ErrInvalidSpec)

// failedChild is a child that cannot start.
type failedChild struct{ err error }

func (f failedChild) Start(context.Context) error { return f.err }
func (f failedChild) Serve(context.Context) error { return f.err }

// start is supervisor.Starter.Start for actors with PreStart, and for
// actors that have a System to join (see newChild). It runs on a goroutine
// of the supervisor's, bounded by the spec's StartTimeout.
func (inc *incarnation[M]) start(ctx context.Context) error {
	inc.cx.ctx = ctx
	c := inc.cx.cell
	if err := c.join(ctx); err != nil {
		err = fmt.Errorf("actor %q: %w", c.name, err)
		c.mu.Lock()
		c.noteEnd(err)
		c.mu.Unlock()
		return err
	}
	if _, ok := inc.actor.(PreStarter[M]); ok {
		if err := inc.preStart(); err != nil {
			err = fmt.Errorf("actor %q: prestart: %w", c.name, err)
			c.mu.Lock()
			c.noteEnd(err)
			c.mu.Unlock()
			return err
		}
	}
	inc.started = true
	// Registered now rather than at Launch: if the supervisor gives up on
	// this start (a timeout), it never launches the incarnation but does
	// cancel ctx, and PostStop is still due.
	inc.watchStop(ctx)
	return nil
}

// afterFuncer is implemented by contexts that can run a function when they
// are cancelled, with no goroutine waiting meanwhile: the convention
// context.AfterFunc itself relies on. The supervisor's contexts implement
// it; calling it directly spares an idle actor the Done channel and the
// wrapper context that context.AfterFunc would add.
type afterFuncer interface {
	AfterFunc(f func()) (stop func() bool)
}

func afterFunc(ctx context.Context, f func()) (stop func() bool) {
	if af, ok := ctx.(afterFuncer); ok {
		return af.AfterFunc(f)
	}
	return context.AfterFunc(ctx, f)
}

// inlineCanceler is implemented by the supervisor's contexts: after
// OnCancelStopChild, the cancel calls the child's StopInline on the
// goroutine that cancels (the supervisor's), so it must never block.
// StopOnCancelInline unregisters it. Neither makes a function (a method
// value and a stop function would be two allocations that each idle
// actor keeps).
type inlineCanceler interface {
	OnCancelStopChild(hook.Token) bool // the cancel calls StopInline
	StopOnCancelInline(hook.Token) bool
}

// Bits of incarnation.marks.
const (
	markWatchInline uint8 = 1 << iota // the stop request is watched in the inline slot of a supervisor's ctx (inlineCanceler)
	markWatchOther                    // ... through afterFunc; rare.unwatch undoes it
	markSelf                          // rare.self is what Context.Self returns (SetSelf)
	markExitCtx                       // the end is reported to cx.ctx (LaunchCtx), not to rare.exit
)

// watchStop registers onCancelInline with ctx, once per incarnation, before
// the incarnation is published to the cell (so that no activation can end
// it meanwhile and read marks).
func (inc *incarnation[M]) watchStop(ctx context.Context) {
	if ic, ok := ctx.(inlineCanceler); ok {
		inc.marks |= markWatchInline
		if ic.OnCancelStopChild(hook.Token{}) {
			return
		}
		inc.marks &^= markWatchInline
	}
	inc.marks |= markWatchOther
	stop := afterFunc(ctx, inc.onCancelInline)
	c := inc.cx.cell
	c.mu.Lock()
	inc.rareLocked().unwatch = stop
	c.mu.Unlock()
}

// unwatchStop undoes watchStop: an incarnation that ends on its own needs
// no wake-up when its ctx is cancelled.
func (inc *incarnation[M]) unwatchStop() {
	switch {
	case inc.marks&markWatchInline != 0:
		inc.cx.ctx.(inlineCanceler).StopOnCancelInline(hook.Token{})
	case inc.marks&markWatchOther != 0:
		c := inc.cx.cell
		var stop func() bool
		c.mu.Lock()
		if inc.rare != nil {
			stop, inc.rare.unwatch = inc.rare.unwatch, nil
		}
		c.mu.Unlock()
		if stop != nil {
			stop()
		}
	}
}

func (inc *incarnation[M]) preStart() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = supervisor.NewPanicError(v)
		}
	}()
	return inc.actor.(PreStarter[M]).PreStart(&inc.cx)
}

// ctxExiter is implemented by the ctx a supervisor launches an actor's
// incarnation with (see LaunchCtx): ExitChild is the exit function it did
// not have to make.
type ctxExiter interface {
	ExitChild(_ hook.Token, err error)
}

// LaunchCtx is how a supervisor launches the incarnation: Launch, with the
// end reported by ctx's ExitChild instead of an exit function, of which
// each of 100,000 idle actors would keep one. The supervisor gives Start
// (if any) and Launch the same ctx, so it is cx.ctx. It reports false,
// launching nothing, if ctx takes no exit report: the caller then calls
// Launch.
func (inc *incarnation[M]) LaunchCtx(_ hook.Token, ctx context.Context) bool {
	if _, ok := ctx.(ctxExiter); !ok {
		return false
	}
	inc.cx.ctx = ctx
	inc.marks |= markExitCtx
	inc.launch(ctx)
	return true
}

// Launch implements supervisor.Launcher: it hands the incarnation to the
// cell and returns at once. exit is called once, by the activation that
// ends the incarnation.
func (inc *incarnation[M]) Launch(ctx context.Context, exit func(error)) {
	c := inc.cx.cell
	c.mu.Lock() // an observer's Crash may be making rare
	inc.rareLocked().exit = exit
	c.mu.Unlock()
	if inc.cx.ctx == nil {
		inc.cx.ctx = ctx
	}
	inc.launch(ctx)
}

// reportExit tells whoever launched the incarnation that it has ended, with
// err; once.
func (inc *incarnation[M]) reportExit(err error) {
	if inc.marks&markExitCtx != 0 {
		inc.cx.ctx.(ctxExiter).ExitChild(hook.Token{}, err)
		return
	}
	inc.rare.exit(err)
}

// launch is Launch once the exit report is arranged.
func (inc *incarnation[M]) launch(ctx context.Context) {
	c := inc.cx.cell
	inc.launched = true
	if inc.marks&(markWatchInline|markWatchOther) == 0 {
		inc.watchStop(ctx)
	}
	c.mu.Lock()
	if c.stopped() {
		// Only a Spec misused by two supervisors gets here.
		err := c.stoppedErrLocked()
		c.mu.Unlock()
		inc.ended = true
		inc.unwatchStop()
		inc.reportExit(inc.postStop(err))
		return
	}
	bits := stHasInc | stLaunched
	if prev := c.inc; prev != nil {
		inc.rareLocked().retiring = prev // stopped, not yet ended
		bits |= stLookLocked             // a lingering activation serves prev: see takeLingering
	}
	c.inc = inc
	c.state.Or(bits) // one locked instruction: a spawn launches on the spawner's goroutine
	runnable := c.hasQueuedLocked() || inc.ctl.Load() != 0 || inc.rare != nil && inc.rare.retiring != nil
	c.mu.Unlock()
	if runnable {
		c.schedule()
	}
}

// Serve implements supervisor.Child for runners other than a supervisor:
// it launches the incarnation and waits for its end.
func (inc *incarnation[M]) Serve(ctx context.Context) error {
	exited := make(chan error, 1)
	inc.Launch(ctx, func(err error) { exited <- err })
	return <-exited
}

// onCancel runs (on a goroutine of context.AfterFunc's) when the supervisor
// asks the incarnation to stop. The stop is a control request handled at
// the incarnation's next turn: after the Receive under way, if any, or at
// once on this goroutine if the actor is idle.
func (inc *incarnation[M]) onCancel() {
	inc.ctl.Or(ctlStop)
	if !inc.launched {
		// The supervisor gave up on this start and will never launch it.
		inc.ended = true
		_ = inc.postStop(nil)
		return
	}
	inc.cx.cell.runHere()
}

// onCancelInline is the stop request as the supervisor delivers it, on its
// own goroutine (see inlineCanceler), so it must not block. An idle actor
// whose end runs no code of the user's (no PostStop due, nothing to drain,
// no predecessor to retire) is ended right here: a supervisor stopping a
// thousand actors one at a time, each waited for in turn, then needs no
// goroutine and no wake-up per stop, and finds each one ended when it
// looks. Anything else gets an activation goroutine, as onCancel does; an
// actor in Receive sees the request at its next turn.
func (inc *incarnation[M]) onCancelInline() {
	if !inc.launched {
		go inc.onCancel() // PostStop may be due
		return
	}
	inc.ctl.Or(ctlStop)
	c := inc.cx.cell
	if !c.activate() {
		return // the activation that owns the cell sees the request
	}
	if !inc.quietEnd() {
		go c.run()
		return
	}
	c.run()
}

// StopInline is how a supervisor delivers the stop request when it
// cancels the incarnation's ctx (see inlineCanceler): onCancelInline. It
// does nothing while the ctx is not cancelled, so that nobody else (an
// observer holding supervisor.ChildInfo.Instance) can stop an actor with
// it; and its hook.Token keeps code outside this module from calling it
// at all.
func (inc *incarnation[M]) StopInline(hook.Token) {
	if inc.cx.ctx == nil || inc.cx.ctx.Err() == nil {
		return
	}
	inc.onCancelInline()
}

// quietEnd reports whether ending inc now would run no code of the user's;
// the caller owns the cell (activate).
func (inc *incarnation[M]) quietEnd() bool {
	if _, ok := inc.actor.(PostStopper[M]); ok && inc.started {
		return false
	}
	c := inc.cx.cell
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inc == inc && inc.rare == nil && !(c.drain() && c.hasQueuedLocked())
}

// postStop calls PostStop if it is due. A panic there turns a normal end
// into a failure; after a crash the crash stays the reason.
func (inc *incarnation[M]) postStop(err error) error {
	ps, ok := inc.actor.(PostStopper[M])
	if !ok || !inc.started {
		return err
	}
	inc.started = false
	perr := func() (perr error) {
		defer func() {
			if v := recover(); v != nil {
				perr = supervisor.NewPanicError(v)
			}
		}()
		ps.PostStop(&inc.cx)
		return nil
	}()
	if perr == nil {
		return err
	}
	if isNormal(err) {
		return fmt.Errorf("actor %q: poststop: %w", inc.cx.cell.name, perr)
	}
	inc.cx.cell.log().Error("PostStop panicked after a crash", "err", perr)
	return err
}

// receive calls Receive, turning a panic into a *supervisor.PanicError.
//
// A Func is called directly rather than through its Receive method, which
// the compiler reaches through a wrapper frame (the method of a generic
// type called through an interface). That frame cost twice: 32 bytes of a
// fresh activation's 2 KB stack under every Receive (the benchmarks'
// Receive, a channel send, grew the stack by exactly that much, and a
// growth copies the stack with the runtime's unwinder: about 1 µs, and it
// evicted the unwinder's caches that a panic then needed), and one frame
// more for a panic to walk between the panicking function and this
// recover (runtime.gopanic finds the deferring frame by unwinding).
func (inc *incarnation[M]) receive(msg M) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = supervisor.NewPanicError(v)
		}
	}()
	if f, ok := inc.actor.(Func[M]); ok {
		return f(&inc.cx, msg)
	}
	return inc.actor.Receive(&inc.cx, msg)
}

// MailboxLen returns how many messages wait in the actor's mailbox (the one
// in Receive excluded). With Processed, DeadLetterCount and Crash it is read
// by observers that find the incarnation in supervisor.ChildInfo.Instance.
func (inc *incarnation[M]) MailboxLen() int { return inc.cx.cell.mailboxLen() }

// Processed returns how many messages the actor (all incarnations) has
// handled: Receive returned nil or an error wrapping supervisor.ErrShutdown.
func (inc *incarnation[M]) Processed() uint64 { return inc.cx.cell.processed() }

// DeadLetterCount returns how many dead letters are attributed to the actor.
func (inc *incarnation[M]) DeadLetterCount() uint64 { return inc.cx.cell.deadCount() }

// Crash makes this incarnation fail with err at its next turn, even if it
// is idle: fault injection for operators. It does nothing once the
// incarnation has ended. A nil err becomes a generic one.
func (inc *incarnation[M]) Crash(err error) {
	if err == nil {
		err = errInjected
	}
	c := inc.cx.cell
	c.mu.Lock()
	if inc.ctl.Load()&ctlCrash == 0 {
		inc.rareLocked().crashErr = err
		inc.ctl.Or(ctlCrash)
	}
	current := c.inc == inc
	c.mu.Unlock()
	if current {
		c.schedule()
	}
}

var errInjected = fmt.Errorf("crash injected")

// The child types the supervisor sees: an incarnation plus the optional
// interfaces its actor calls for.
type (
	starting[M any]        struct{ *incarnation[M] }
	checked[M any]         struct{ *incarnation[M] }
	startingChecked[M any] struct{ *incarnation[M] }
)

// Start runs the actor's PreStart.
func (s starting[M]) Start(ctx context.Context) error { return s.start(ctx) }

// Start runs the actor's PreStart.
func (s startingChecked[M]) Start(ctx context.Context) error { return s.start(ctx) }

// CheckHealth forwards to the actor's CheckHealth, which runs on the
// supervisor's health goroutine, concurrently with Receive.
func (s checked[M]) CheckHealth(ctx context.Context) health.Status {
	return s.actor.(health.Checker).CheckHealth(ctx)
}

// CheckHealth forwards to the actor's CheckHealth.
func (s startingChecked[M]) CheckHealth(ctx context.Context) health.Status {
	return s.actor.(health.Checker).CheckHealth(ctx)
}
